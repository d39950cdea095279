"""Checking a Sitepass webhook on the receiving side: standard library only, copy it into your receiver.

The README quotes verify_signature(); the test suite checks real deliveries with this very function
(tests/models/test_webhooks.py).
"""
import hashlib
import hmac
import time

TOLERANCE_SECONDS = 300  # refuse deliveries signed more than 5 minutes away from now (replays)


def verify_signature(secret: str, body: bytes, header: str, now: float | None = None,
                     tolerance: int = TOLERANCE_SECONDS) -> bool:
    """True when `header` (the Sitepass-Signature header, "t=<unix time>,v1=<hex>") signs these exact body
    bytes with the endpoint's secret and its time is within `tolerance` seconds of now."""
    try:
        pairs = [part.strip().split("=", 1) for part in header.split(",")]
        timestamp = int(dict(pairs)["t"])
        signatures = [value for key, value in pairs if key == "v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


if __name__ == "__main__":
    # A receiver to try it out: SECRET=whsec_… python examples/webhook_receiver.py 8000
    import json
    import os
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    seen = set()  # event ids already handled: a delivery may come twice

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if not verify_signature(os.environ["SECRET"], body, self.headers.get("Sitepass-Signature", "")):
                self.send_response(400)
                self.end_headers()
                return
            event = json.loads(body)
            if event["id"] not in seen:
                seen.add(event["id"])
                print(event["type"], event["site_number"], event["subject"]["label"], flush=True)
            self.send_response(204)
            self.end_headers()

    HTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
