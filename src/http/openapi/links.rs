//! OpenAPI links (OAS 3.1 section 4.8.20): which value of an answer names the resource another operation acts on,
//! so a client generator, a reader, or a stateful test can follow them: the profile's `user_id` leads to the
//! service reads and the admin routes (so does a profile the admin search lists), a new address's `id` to its own
//! routes, a listed address to its revisions, and a 404 `profile_not_found` to creating the profile.

use std::collections::BTreeMap;

use utoipa::openapi::{OpenApi, RefOr, link::LinkBuilder};

use super::operations_mut;

/// The user id of an answer about the caller's own profile.
const PROFILE_USER_ID: &str = "$response.body#/user_id";
/// The user id the request named in its path.
const PATH_USER_ID: &str = "$request.path.user_id";

/// (operation id, statuses): the answers whose body is a `Profile`.
const PROFILE_ANSWERS: &[(&str, &[&str])] = &[
    ("put_profile", &["200", "201"]),
    ("get_profile", &["200"]),
    ("patch_profile", &["200"]),
    ("admin_patch_profile", &["200"]),
];

/// Operations that act on a user named by `user_id` (path or query), and the link name each gets.
const BY_USER_ID: &[(&str, &str)] = &[
    ("get_user_profile", "GetUserProfile"),
    ("list_user_addresses", "ListUserAddresses"),
    ("get_default_addresses", "GetDefaultAddresses"),
    ("get_user_preferences", "GetUserPreferences"),
    ("admin_get_profile", "AdminGetProfile"),
    ("admin_patch_profile", "AdminPatchProfile"),
    ("admin_delete_profile", "AdminDeleteProfile"),
    ("get_kept_suspension", "GetKeptSuspension"),
    ("lift_kept_suspension", "LiftKeptSuspension"),
    ("list_audit_events", "ListAuditEvents"),
    ("list_erasures", "ListErasures"),
    ("list_events", "ListEvents"),
];

/// (operation id, status): the answers that say the caller has no profile yet.
const PROFILE_MISSING: &[(&str, &str)] = &[
    ("get_profile", "404"),
    ("list_addresses", "404"),
    ("create_address", "404"),
    ("get_preferences", "404"),
];

/// Operations on one of the caller's own addresses, by `address_id`.
const OWN_ADDRESS: &[(&str, &str)] = &[
    ("get_address", "GetAddress"),
    ("replace_address", "ReplaceAddress"),
    ("patch_address", "PatchAddress"),
    ("delete_address", "DeleteAddress"),
];

/// One link to add: from (operation id, status) to operation id, with its parameters.
struct Link {
    from: (&'static str, &'static str),
    name: &'static str,
    to: &'static str,
    parameters: Vec<(&'static str, &'static str)>,
    description: &'static str,
}

fn links() -> Vec<Link> {
    let mut links = user_links();
    links.extend(address_links());
    links
}

/// Links that name a user: from a profile to the service reads and admin routes, to creating a missing profile,
/// and from an erasure to the suspension it kept.
fn user_links() -> Vec<Link> {
    let mut links = Vec::new();
    for (from, statuses) in PROFILE_ANSWERS {
        for status in *statuses {
            for (to, name) in BY_USER_ID {
                links.push(Link {
                    from: (from, status),
                    name,
                    to,
                    parameters: vec![("user_id", PROFILE_USER_ID)],
                    description: "The profile's `user_id` names the user in the service reads and admin routes",
                });
            }
        }
    }
    // The admin search lists existing users: each one leads on like the caller's own profile.
    for (to, name) in BY_USER_ID {
        links.push(Link {
            from: ("list_profiles", "200"),
            name,
            to,
            parameters: vec![("user_id", "$response.body#/items/0/user_id")],
            description: "A listed profile's `user_id` names the user in the service reads and admin routes",
        });
    }
    // Without a profile the caller's routes answer 404 `profile_not_found` (or 410 after an erasure): create it.
    for (from, status) in PROFILE_MISSING {
        links.push(Link {
            from: (from, status),
            name: "CreateProfile",
            to: "put_profile",
            parameters: vec![],
            description: "No profile yet: create it with `PUT /api/v1/profiles/me`",
        });
    }
    // Erasing a suspended profile keeps its suspension.
    for (to, name) in [
        ("get_kept_suspension", "GetKeptSuspension"),
        ("lift_kept_suspension", "LiftKeptSuspension"),
    ] {
        links.push(Link {
            from: ("admin_delete_profile", "204"),
            name,
            to,
            parameters: vec![("user_id", PATH_USER_ID)],
            description: "The suspension erasure kept, when the erased profile was suspended",
        });
    }
    links
}

/// Links that name an address: the caller's own routes, the order service's reads, a revision.
fn address_links() -> Vec<Link> {
    let mut links = Vec::new();
    for (from, status, id) in [
        ("create_address", "201", "$response.body#/id"),
        ("get_address", "200", "$response.body#/id"),
        ("replace_address", "200", "$response.body#/id"),
        ("patch_address", "200", "$response.body#/id"),
        ("list_addresses", "200", "$response.body#/items/0/id"),
    ] {
        for (to, name) in OWN_ADDRESS {
            links.push(Link {
                from: (from, status),
                name,
                to,
                parameters: vec![("address_id", id)],
                description: "The address's `id` names it in the caller's address routes",
            });
        }
    }
    for (from, id) in [
        ("list_user_addresses", "$response.body#/items/0/id"),
        ("get_default_addresses", "$response.body#/shipping/id"),
    ] {
        links.push(Link {
            from: (from, "200"),
            name: "GetUserAddress",
            to: "get_user_address",
            parameters: vec![("user_id", PATH_USER_ID), ("address_id", id)],
            description: "An address of this user, read by the order service",
        });
    }
    links.push(Link {
        from: ("list_address_formats", "200"),
        name: "GetAddressFormat",
        to: "get_address_format",
        parameters: vec![("country", "$response.body#/items/0/country")],
        description: "One country's address form, by its code",
    });
    links.push(Link {
        from: ("get_user_address", "200"),
        name: "GetAddressRevision",
        to: "get_address_revision",
        parameters: vec![
            ("user_id", PATH_USER_ID),
            ("address_id", "$response.body#/id"),
            ("revision", "$response.body#/revision"),
        ],
        description: "The revision an order stores with the address id, readable for good",
    });
    links
}

/// Adds every link to the responses it starts from; a link whose operations are missing is left out.
pub(super) fn add(openapi: &mut OpenApi) {
    let ids: Vec<String> = operations_mut(openapi)
        .filter_map(|(_, _, op)| op.operation_id.clone())
        .collect();
    let mut by_origin: BTreeMap<(&str, &str), Vec<Link>> = BTreeMap::new();
    for link in links() {
        if ids.iter().any(|id| id == link.to) {
            by_origin.entry(link.from).or_default().push(link);
        }
    }
    for (_, _, op) in operations_mut(openapi) {
        let Some(id) = op.operation_id.clone() else {
            continue;
        };
        for (status, response) in &mut op.responses.responses {
            let (Some(links), RefOr::T(response)) =
                (by_origin.get(&(id.as_str(), status.as_str())), response)
            else {
                continue;
            };
            for link in links {
                let mut builder = LinkBuilder::new()
                    .operation_id(link.to)
                    .description(link.description);
                for (name, value) in &link.parameters {
                    builder = builder.parameter(*name, *value);
                }
                response
                    .links
                    .insert(link.name.into(), RefOr::T(builder.build()));
            }
        }
    }
}
