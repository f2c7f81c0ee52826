"""The shopper story on the Python client that openapi-python-client generates from the served document, as a
frontend developer would write it on their first afternoon: create a profile, add two addresses, make the second
the default for shipping, read the defaults as the order service, patch the preferences.

Type-checked with `mypy --strict` against the generated package and run against the service
(`.ci/contract-checks`): CONTRACT_BASE_URL, SHOPPER_TOKEN (role user), SERVICE_TOKEN (role service).
"""

import os
from http import HTTPStatus

from user_profile_service_client import AuthenticatedClient
from user_profile_service_client.api.addresses import create_address, patch_address
from user_profile_service_client.api.preferences import patch_preferences
from user_profile_service_client.api.profiles import put_profile
from user_profile_service_client.api.service_reads import get_default_addresses
from user_profile_service_client.models import (
    Address,
    AddressInput,
    AddressPatch,
    ChannelInput,
    CountryCode,
    CurrencyCode,
    DefaultAddresses,
    NotificationsInput,
    Preferences,
    PreferencesInput,
    Profile,
    ProfileInput,
)


def main() -> None:
    base_url = os.environ["CONTRACT_BASE_URL"]
    shopper = AuthenticatedClient(base_url=base_url, token=os.environ["SHOPPER_TOKEN"])
    order_service = AuthenticatedClient(base_url=base_url, token=os.environ["SERVICE_TOKEN"])

    created = put_profile.sync_detailed(
        client=shopper,
        body=ProfileInput(email="ada.python@example.com", display_name="Ada", timezone="Europe/London"),
    )
    assert created.status_code == HTTPStatus.CREATED, created.content
    profile = created.parsed
    assert isinstance(profile, Profile), profile
    user_id = profile.user_id

    home = create_address.sync(
        client=shopper,
        body=AddressInput(
            recipient_name="Ada Lovelace",
            line1="12 St James's Square",
            city="London",
            postal_code="SW1Y 4JH",
            country=CountryCode.GB,
        ),
    )
    assert isinstance(home, Address), home
    work = create_address.sync(
        client=shopper,
        body=AddressInput(
            recipient_name="Ada Lovelace",
            line1="Unter den Linden 1",
            city="Berlin",
            postal_code="10117",
            country=CountryCode.DE,
        ),
    )
    assert isinstance(work, Address), work
    assert home.is_default_shipping and not work.is_default_shipping

    moved = patch_address.sync(
        work.id,
        client=shopper,
        body=AddressPatch(is_default_shipping=True),
        if_match=f'"{work.revision}"',
    )
    assert isinstance(moved, Address), moved
    assert moved.is_default_shipping

    defaults = get_default_addresses.sync(user_id, client=order_service)
    assert isinstance(defaults, DefaultAddresses), defaults
    assert isinstance(defaults.shipping, Address) and defaults.shipping.id == work.id
    assert isinstance(defaults.billing, Address) and defaults.billing.id == home.id

    preferences = patch_preferences.sync(
        client=shopper,
        body=PreferencesInput(
            notifications=NotificationsInput(email=ChannelInput(marketing=True)),
            currency=CurrencyCode.GBP,
        ),
    )
    assert isinstance(preferences, Preferences), preferences
    assert preferences.notifications.email.marketing is True
    assert preferences.currency == CurrencyCode.GBP
    print(f"shopper.py: profile {user_id}, shipping to {defaults.shipping.city}, version {preferences.version}")


if __name__ == "__main__":
    main()
