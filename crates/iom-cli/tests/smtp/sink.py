"""An SMTP server (aiosmtpd) that records every message it accepts, for the notification tests
and `iom bench notifications`.

    sink.py PORT OUT [--count]

Listens on 127.0.0.1:PORT and prints "ready" once it does. Each message accepted is appended
to OUT as one JSON line (Message-ID, envelope recipients, subject, plain-text and HTML parts)
and flushed before the server answers 250, so a message the client saw accepted is in the
file. With --count only the number of messages is kept, in OUT, rewritten every 100 ms.
"""

import asyncio
import email
import email.policy
import json
import sys

from aiosmtpd.controller import Controller


class Record:
    def __init__(self, out, count_only):
        self.out = out
        self.count_only = count_only
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        if self.count_only:
            return "250 OK"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        line = json.dumps({
            "message_id": message["Message-ID"],
            "from": envelope.mail_from,
            "to": envelope.rcpt_tos,
            "subject": message["Subject"],
            "text": text.get_content() if text else None,
            "html": html.get_content() if html else None,
        })
        self.out.write(line + "\n")
        self.out.flush()
        return "250 OK"


async def main():
    port = int(sys.argv[1])
    path = sys.argv[2]
    count_only = "--count" in sys.argv[3:]
    out = open(path, "a", encoding="utf-8")
    handler = Record(out, count_only)
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    while True:
        await asyncio.sleep(0.1)
        if count_only:
            with open(path, "w", encoding="utf-8") as f:
                f.write(str(handler.count))


asyncio.run(main())
