// The shopper story with fetch and the types openapi-typescript generates from the served document (schema.d.ts,
// written next to this file by .ci/contract-checks): create a profile, add two addresses, make the second the
// default for shipping, read the defaults as the order service, patch the preferences. Type-checked with
// `tsc --strict`; run with node against the service (CONTRACT_BASE_URL, TS_SHOPPER_TOKEN, SERVICE_TOKEN).

import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
type Json<T> = { status: number; headers: Headers; body: T };

const base = required("CONTRACT_BASE_URL");
const shopper = required("TS_SHOPPER_TOKEN");
const orderService = required("SERVICE_TOKEN");

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`shopper.ts: ${what}`);
}

/** One request; the body type comes from the operation the caller names. */
async function call<T>(
  method: "GET" | "PUT" | "POST" | "PATCH",
  path: string,
  token: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Json<T>> {
  const contentType = method === "PATCH" ? "application/merge-patch+json" : "application/json";
  const response = await fetch(base + path, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": contentType }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

type PutProfile = paths["/api/v1/profiles/me"]["put"];
type CreateAddress = paths["/api/v1/profiles/me/addresses"]["post"];
type PatchAddress = paths["/api/v1/profiles/me/addresses/{address_id}"]["patch"];
type Defaults = paths["/api/v1/users/{user_id}/addresses/defaults"]["get"];
type PatchPreferences = paths["/api/v1/profiles/me/preferences"]["patch"];

async function main(): Promise<void> {
  const input: PutProfile["requestBody"]["content"]["application/json"] = {
    email: "ada.typescript@example.com",
    display_name: "Ada",
    locale: "en-GB",
  };
  const created = await call<PutProfile["responses"][201]["content"]["application/json"]>(
    "PUT",
    "/api/v1/profiles/me",
    shopper,
    input,
  );
  check(created.status === 201, `PUT profile answered ${created.status}`);
  const userId: string = created.body.user_id;

  const newAddress = async (address: Schemas["AddressInput"]) => {
    const answer = await call<CreateAddress["responses"][201]["content"]["application/json"]>(
      "POST",
      "/api/v1/profiles/me/addresses",
      shopper,
      address,
    );
    check(answer.status === 201, `POST address answered ${answer.status}`);
    return answer.body;
  };
  const home = await newAddress({
    recipient_name: "Ada Lovelace",
    line1: "12 St James's Square",
    city: "London",
    postal_code: "SW1Y 4JH",
    country: "GB",
  });
  const work = await newAddress({
    recipient_name: "Ada Lovelace",
    line1: "Unter den Linden 1",
    city: "Berlin",
    postal_code: "10117",
    country: "DE",
  });
  check(home.is_default_shipping && !work.is_default_shipping, "the first address is the default");

  const patch: PatchAddress["requestBody"]["content"]["application/merge-patch+json"] = {
    is_default_shipping: true,
  };
  const moved = await call<PatchAddress["responses"][200]["content"]["application/json"]>(
    "PATCH",
    `/api/v1/profiles/me/addresses/${work.id}`,
    shopper,
    patch,
    { "if-match": `"${work.revision}"` },
  );
  check(moved.status === 200 && moved.body.is_default_shipping, "PATCH made the address the default");

  const defaults = await call<Defaults["responses"][200]["content"]["application/json"]>(
    "GET",
    `/api/v1/users/${encodeURIComponent(userId)}/addresses/defaults`,
    orderService,
  );
  check(defaults.status === 200, `GET defaults answered ${defaults.status}`);
  const shipping = defaults.body.shipping;
  check(shipping !== null && shipping !== undefined && shipping.id === work.id, "the order service sees the new default");

  const preferences: PatchPreferences["requestBody"]["content"]["application/merge-patch+json"] = {
    notifications: { email: { marketing: true } },
    currency: "GBP",
  };
  const saved = await call<PatchPreferences["responses"][200]["content"]["application/json"]>(
    "PATCH",
    "/api/v1/profiles/me/preferences",
    shopper,
    preferences,
  );
  check(saved.status === 200, `PATCH preferences answered ${saved.status}`);
  check(saved.body.notifications.email.marketing === true && saved.body.currency === "GBP", "preferences stored");
  console.log(`shopper.ts: profile ${userId}, shipping to ${shipping.city}, preferences version ${saved.body.version}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
