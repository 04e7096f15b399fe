#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tiny_smtpd.py - a small, strict SMTP server on loopback for testing sluice-blast.

It checks what a client sends rather than being fast: commands in order, pipelining only when
offered, DATA ended only by CRLF.CRLF and dot-unstuffed, no bare CR or LF, BDAT sizes, SIZE= equal
to the real size, BODY=8BITMIME for 8-bit content and SMTPUTF8 for UTF-8 headers, and each
message's X-Blast-Sum (CRC-32 of the body). For every message it appends one line to --log:
"ID QUEUEID ok" or "ID QUEUEID bad:REASON". Protocol violations are logged as "- - bad:REASON".

--mode selects behaviour: normal, nopipe (no PIPELINING/CHUNKING), garbage (greeting is not
SMTP), silent (never greets), reset (RST after EHLO), reject-mail (451 to MAIL), reject-rcpt
(550 to every RCPT), multiline (multi-line greeting and replies), slow (50 ms before each
reply to the end of a message).

The listening port (127.0.0.1, chosen by the kernel) is written to --portfile. Runs until killed
or --lifetime seconds pass.
"""
import argparse
import asyncio
import os
import re
import socket
import struct
import sys
import zlib

EXT_ALL = ["PIPELINING", "CHUNKING", "8BITMIME", "SMTPUTF8", "SIZE 52428800",
           "ENHANCEDSTATUSCODES"]


class Server:
    def __init__(self, mode, log):
        self.mode = mode
        self.log = log
        self.queue_seq = 0

    def record(self, line):
        self.log.write(line + "\n")
        self.log.flush()

    def check_message(self, msg, mail_params, size_param):
        """Returns (id, reason or None) for one unstuffed message."""
        sep = msg.find(b"\r\n\r\n")
        if sep < 0:
            return "-", "no header/body separator"
        head, body = msg[:sep + 2], msg[sep + 4:]
        m = re.search(rb"^X-Blast-Id: (\S+)\r$", head, re.M)
        ident = m.group(1).decode() if m else "-"
        if re.search(rb"(?<!\r)\n|\r(?!\n)", msg):
            return ident, "bare CR or LF"
        if not msg.endswith(b"\r\n"):
            return ident, "no final CRLF"
        s = re.search(rb"^X-Blast-Sum: crc32 ([0-9a-f]{8})\r$", head, re.M)
        if not s or int(s.group(1), 16) != zlib.crc32(body):
            return ident, "checksum"
        mid = re.search(rb"^Message-ID: <([^@>]+)@", head, re.M)
        if not mid or mid.group(1).decode() != ident:
            return ident, "Message-ID differs from X-Blast-Id"
        if any(b > 127 for b in head) and "SMTPUTF8" not in mail_params:
            return ident, "UTF-8 header without SMTPUTF8"
        if any(b > 127 for b in msg) and "BODY=8BITMIME" not in mail_params:
            return ident, "8-bit content without BODY=8BITMIME"
        if size_param is not None and size_param != len(msg):
            return ident, "SIZE=%d but %d bytes" % (size_param, len(msg))
        for line in head.split(b"\r\n"):
            if len(line) > 998:
                return ident, "header line too long"
        return ident, None

    async def read_data(self, reader):
        """DATA content up to CRLF.CRLF, unstuffed. Returns bytes or None on EOF."""
        lines = []
        while True:
            line = await reader.readline()
            if not line:
                return None
            if line == b".\r\n":
                return b"".join(lines)
            if line.startswith(b"."):
                line = line[1:]
            lines.append(line)

    def ehlo_lines(self):
        ext = EXT_ALL
        if self.mode == "nopipe":
            ext = [e for e in ext if e not in ("PIPELINING", "CHUNKING")]
        return ["tiny.example.test"] + ext

    async def reply(self, writer, code, text):
        if self.mode == "multiline":
            writer.write(b"%d-%s\r\n" % (code, b"first line"))
        writer.write(b"%d %s\r\n" % (code, text.encode()))

    async def session(self, reader, writer):
        try:
            await self.session_inner(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def session_inner(self, reader, writer):
        mode = self.mode
        if mode == "silent":
            await reader.read()
            return
        if mode == "garbage":
            writer.write(b"hello, this is not SMTP\r\n")
            await writer.drain()
            await reader.read(100)
            return
        await self.reply(writer, 220, "tiny.example.test ESMTP")
        await writer.drain()
        mail_params, size_param, rcpts, have_mail, ext_on = "", None, 0, False, False
        while True:
            line = await reader.readline()
            if not line:
                return
            if not line.endswith(b"\r\n"):
                self.record("- - bad:command without CRLF")
                return
            # A client that does not pipeline never has a second command waiting.
            if not ext_on or mode == "nopipe":
                if reader._buffer and not line.upper().startswith(b"BDAT"):
                    self.record("- - bad:pipelined without PIPELINING")
            cmd = line[:-2].decode("utf-8", "replace")
            verb = cmd.split(" ", 1)[0].upper()
            if verb == "EHLO":
                ext_on = True
                lines = self.ehlo_lines()
                for i, t in enumerate(lines):
                    writer.write(b"250%s%s\r\n" % (b" " if i == len(lines) - 1 else b"-",
                                                   t.encode()))
                if mode == "reset":
                    await writer.drain()
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    return
            elif verb == "HELO":
                await self.reply(writer, 250, "tiny.example.test")
            elif verb == "MAIL":
                if mode == "reject-mail":
                    await self.reply(writer, 451, "4.3.0 try again later")
                else:
                    have_mail, rcpts = True, 0
                    mail_params = cmd.upper()
                    m = re.search(r" SIZE=(\d+)", mail_params)
                    size_param = int(m.group(1)) if m else None
                    await self.reply(writer, 250, "2.1.0 Ok")
            elif verb == "RCPT":
                if not have_mail:
                    await self.reply(writer, 503, "5.5.1 need MAIL")
                elif mode == "reject-rcpt":
                    await self.reply(writer, 550, "5.1.1 no such user")
                else:
                    rcpts += 1
                    await self.reply(writer, 250, "2.1.5 Ok")
            elif verb == "DATA":
                if not have_mail or rcpts == 0:
                    await self.reply(writer, 554, "5.5.1 no valid recipients")
                    continue
                await self.reply(writer, 354, "End data with <CR><LF>.<CR><LF>")
                await writer.drain()
                msg = await self.read_data(reader)
                if msg is None:
                    return
                await self.finish(writer, msg, mail_params, size_param)
                have_mail = False
            elif verb == "BDAT":
                m = re.fullmatch(r"BDAT (\d+)( LAST)?", cmd, re.I)
                if not m or not m.group(2):
                    self.record("- - bad:BDAT form %r" % cmd)
                    return
                msg = await reader.readexactly(int(m.group(1)))
                if not have_mail or rcpts == 0:
                    await self.reply(writer, 554, "5.5.1 no valid recipients")
                else:
                    await self.finish(writer, msg, mail_params, size_param)
                have_mail = False
            elif verb == "RSET":
                have_mail = False
                await self.reply(writer, 250, "2.0.0 Ok")
            elif verb == "QUIT":
                await self.reply(writer, 221, "2.0.0 Bye")
                await writer.drain()
                return
            else:
                await self.reply(writer, 502, "5.5.2 unknown command")
            await writer.drain()

    async def finish(self, writer, msg, mail_params, size_param):
        if self.mode == "slow":
            await asyncio.sleep(0.05)
        ident, reason = self.check_message(msg, mail_params, size_param)
        self.queue_seq += 1
        qid = "Q%06d" % self.queue_seq
        self.record("%s %s %s" % (ident, qid, "ok" if reason is None else "bad:" + reason))
        await self.reply(writer, 250, "2.0.0 Ok: queued as " + qid)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="normal")
    ap.add_argument("--portfile", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--lifetime", type=float, default=120.0)
    args = ap.parse_args()
    with open(args.log, "a") as log:
        srv = Server(args.mode, log)
        server = await asyncio.start_server(srv.session, "127.0.0.1", 0, backlog=1024,
                                            limit=1 << 20)
        port = server.sockets[0].getsockname()[1]
        with open(args.portfile + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.portfile + ".tmp", args.portfile)
        async with server:
            try:
                await asyncio.wait_for(server.serve_forever(), args.lifetime)
            except asyncio.TimeoutError:
                pass


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
