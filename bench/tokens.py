#!/usr/bin/env python3
"""Writes a Lua table of HS256 JWTs for wrk: `tokens.py SECRET FIRST COUNT OUT.lua [ROLE]`.

Users are `u{FIRST}`..`u{FIRST+COUNT-1}`. Standard library only (hmac + sha256), so the harness needs no venv."""
import base64, hashlib, hmac, json, sys, time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(secret: str, sub: str, roles: list[str], exp: int) -> str:
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = b64(json.dumps({"sub": sub, "exp": exp, "roles": roles}, separators=(",", ":")).encode())
    signing_input = f"{header}.{claims}".encode()
    signature = b64(hmac.new(secret.encode(), signing_input, hashlib.sha256).digest())
    return f"{header}.{claims}.{signature}"


def main() -> None:
    secret, first, count, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    role = sys.argv[5] if len(sys.argv) > 5 else "user"
    exp = int(time.time()) + 86400
    with open(out, "w") as f:
        f.write("return {\n")
        for i in range(first, first + count):
            f.write(f'  {{"u{i}", "{token(secret, f"u{i}", [role], exp)}"}},\n')
        f.write("}\n")


if __name__ == "__main__":
    main()
