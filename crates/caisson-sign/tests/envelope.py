#!/usr/bin/env python3
"""An independent implementation of cosign's encrypted private key envelope
(go-securesystemslib "encrypted": scrypt + NaCl secretbox), used by
tests/keys_compat.rs as an oracle.

  envelope.py decrypt KEY.pem   -> PKCS#8 DER on stdout
  envelope.py encrypt KEY.der   -> ENCRYPTED SIGSTORE PRIVATE KEY PEM on stdout

The password comes from $COSIGN_PASSWORD.
"""
import base64
import hashlib
import json
import os
import sys

import nacl.secret
import nacl.utils

LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"


def pem_body(text):
    lines = text.strip().splitlines()
    begin = lines[0]
    assert begin.startswith("-----BEGIN ") and begin.endswith("-----"), begin
    label = begin[len("-----BEGIN "):-5]
    assert label in (LABEL, "ENCRYPTED COSIGN PRIVATE KEY"), label
    assert lines[-1] == "-----END %s-----" % label, lines[-1]
    return base64.b64decode("".join(lines[1:-1]))


def derive(password, kdf):
    assert kdf["name"] == "scrypt", kdf["name"]
    p = kdf["params"]
    n, r, par = p["N"], p["r"], p["p"]
    return hashlib.scrypt(password, salt=base64.b64decode(kdf["salt"]), n=n, r=r, p=par,
                          maxmem=256 * 1024 * 1024, dklen=32)


def decrypt(path, password):
    env = json.loads(pem_body(open(path).read()))
    assert env["cipher"]["name"] == "nacl/secretbox", env["cipher"]["name"]
    key = derive(password, env["kdf"])
    nonce = base64.b64decode(env["cipher"]["nonce"])
    box = nacl.secret.SecretBox(key)
    # NaCl's combined format: tag || ciphertext, nonce passed separately.
    return box.decrypt(base64.b64decode(env["ciphertext"]), nonce)


def encrypt(path, password):
    der = open(path, "rb").read()
    salt = nacl.utils.random(32)
    kdf = {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1},
           "salt": base64.b64encode(salt).decode()}
    key = derive(password, kdf)
    nonce = nacl.utils.random(24)
    sealed = nacl.secret.SecretBox(key).encrypt(der, nonce)
    env = {"kdf": kdf,
           "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
           "ciphertext": base64.b64encode(sealed.ciphertext).decode()}
    body = base64.b64encode(json.dumps(env).encode()).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (LABEL, "\n".join(lines), LABEL)


def main():
    password = os.environ["COSIGN_PASSWORD"].encode()
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "decrypt":
        sys.stdout.buffer.write(decrypt(path, password))
    elif mode == "encrypt":
        sys.stdout.write(encrypt(path, password))
    else:
        sys.exit("unknown mode %s" % mode)


if __name__ == "__main__":
    main()
