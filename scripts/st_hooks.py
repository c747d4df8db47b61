"""Schemathesis hooks for `scripts/api-fuzz.sh`: how to send the media types schemathesis does not know.

`application/pkcs10` (machine enrolment and renewal) is a CSR in PEM (text) or DER (bytes): the generated
string goes as UTF-8, bytes as they are.
"""

import schemathesis


@schemathesis.serializer("application/pkcs10")
def pkcs10(ctx, value):
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode("utf-8")
