"""schemathesis hooks for .ci/contract-checks (loaded through SCHEMATHESIS_HOOKS=hooks).

Two rules span more than one value, so no schema states them; without help the generated data breaks them
almost always and the stateful phase never gets an address to follow links from:
- an `Idempotency-Key` is new for each new request: generated keys are short and collide across operations,
  which the server rightly answers 422 `idempotency_key_reused`. A well-formed generated key is replaced by a
  fresh UUID (a malformed one is left as it is: its 422 is what the test expects);
- an address's postal code must fit its country's format: a positive (schema-valid) address body gets a postal
  code of its country from the table below, or becomes a GB address when the table has none.
"""

import re
import uuid

import schemathesis
from schemathesis import GenerationMode

KEY = re.compile(r"^[!-~]{1,255}$")
POSTAL_CODES = {
    "AD": "AD500", "AT": "1010", "AU": "2000", "BE": "1000", "BR": "01310-100", "CA": "K1A 0B1", "CH": "8001",
    "DE": "10117", "DK": "1050", "ES": "28013", "FR": "75001", "GB": "SW1A 1AA", "IE": "D02 X285", "IN": "110001",
    "IT": "00184", "JP": "100-0001", "NL": "1012 AB", "NO": "0150", "PL": "00-950", "PT": "1100-148",
    "SE": "111 29", "US": "94105",
}
ADDRESS_WRITES = {"create_address", "replace_address"}


@schemathesis.hook
def before_call(context, case, **kwargs):
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and KEY.match(key):
        case.headers["Idempotency-Key"] = str(uuid.uuid4())
    operation_id = case.operation.definition.raw.get("operationId")
    positive = case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE
    if operation_id in ADDRESS_WRITES and positive and isinstance(case.body, dict):
        country = case.body.get("country")
        if country not in POSTAL_CODES:
            country = case.body["country"] = "GB"
        case.body["postal_code"] = POSTAL_CODES[country]
