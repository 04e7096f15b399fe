# SPDX-License-Identifier: MIT
"""Message size limits and configuration reload, end to end.

Part 1 (--max-message-size 10k): EHLO advertises SIZE 10240; MAIL ... SIZE=20000 is refused; a
message of exactly 10240 octets is accepted and one of 10241 refused with a single 552 5.3.4
after its end (the session stays in sync); a BDAT chunk that crosses the limit fails the
transaction with 552. Only the accepted message is stored.

Part 2 (--config FILE, then SIGHUP): with [smtp] max_message_size = 10k a 20 KB message gets
552; the file is rewritten with 1M and bare_newline = normalize and sluiced gets SIGHUP; once
EHLO advertises the new SIZE, the 20 KB message is accepted, and a smuggling vector
("\\n.\\n" then MAIL FROM...) is stored as ONE message whose bare LFs became CRLF: the fake end
never ends DATA, nothing smuggled becomes a message."""

import os
import signal
import time

import sluice_harness as h


def ehlo_size(port):
    c = h.RawSmtp(port)
    try:
        c.reply()
        r = c.command('EHLO client.example')
    finally:
        c.close()
    for line in r[1][1:]:
        w = line.split()
        if w and w[0].upper() == 'SIZE':
            return int(w[1]) if len(w) > 1 else 0
    return None


def message_of(tid, total):
    """A message of exactly total octets (CRLF line ends, ends in CRLF, no dot lines)."""
    head = h.make_message(tid, subject='size', body=b'')
    pad = total - len(head)
    lines, left = [], pad
    while left > 0:
        n = min(78, left - 2) if left - 2 >= 1 else None
        if n is None:  # 1 or 2 octets left: lengthen the previous line instead
            lines[-1] = lines[-1][:-2] + b'y' * left + b'\r\n'
            break
        lines.append(b'x' * n + b'\r\n')
        left -= n + 2
    msg = head + b''.join(lines)
    assert len(msg) == total, (len(msg), total)
    return msg


def data_txn(port, msg, extra=b'NOOP\r\nQUIT\r\n'):
    """MAIL, RCPT, DATA, then msg + end + extra in one write: the replies after DATA's 354."""
    c = h.RawSmtp(port)
    try:
        c.reply()
        c.command('EHLO client.example')
        c.command('MAIL FROM:<lim@client.example>')
        c.command('RCPT TO:<r@dest.example>')
        if c.command('DATA')[0] != 354:
            return None
        c.send(msg + b'.\r\n' + extra)
        return c.replies_until_close()
    finally:
        c.close()


def part_flag(t):
    d = h.Sluice(t, extra_args=['--max-message-size', '10k']).start()
    sp = h.Spool(t, d.spool)
    t.equal(ehlo_size(d.port), 10240, '--max-message-size 10k: EHLO advertises SIZE 10240')
    c = h.RawSmtp(d.port)
    c.reply()
    c.command('EHLO client.example')
    r = c.command('MAIL FROM:<a@client.example> SIZE=20000')
    t.check(r[0] == 552 and r[1][0].startswith('5.3.4'), 'MAIL with SIZE=20000 > 10240: 552 5.3.4',
            r)
    c.command('QUIT')
    c.close()
    tid_ok = h.new_id()
    ok = message_of(tid_ok, 10240)
    r = data_txn(d.port, ok)
    t.equal(h.codes(r or []), [250, 250, 221], 'a message of exactly 10240 octets: 250')
    big = message_of(h.new_id(), 10241)
    r = data_txn(d.port, big)
    t.equal(h.codes(r or []), [552, 250, 221],
            '10241 octets: exactly one reply, 552, after the end of data; then in sync')
    t.check(r and r[0][1][0].startswith('5.3.4'), 'the size refusal is 552 5.3.4', r[:1])
    c = h.RawSmtp(d.port)
    c.reply()
    c.command('EHLO client.example')
    c.command('MAIL FROM:<b@client.example>')
    c.command('RCPT TO:<r@dest.example>')
    body = message_of(h.new_id(), 12000)
    c.send(b'BDAT 8000\r\n' + body[:8000])
    t.check(c.reply()[0] == 250, 'BDAT 8000 (under the limit): 250')
    c.send(b'BDAT 4000 LAST\r\n' + body[8000:])
    r = c.reply()
    t.check(r[0] == 552, 'BDAT 4000 LAST crossing 10240: 552', r)
    t.check(c.command('NOOP')[0] == 250, 'the chunk octets were not read as commands (NOOP 250)')
    c.close()
    entries = sp.load()
    t.check(len(entries) == 1 and entries[0].content == ok,
            'only the 10240-octet message is stored, byte for byte',
            [(e.id, len(e.content)) for e in entries])
    d.stop_and_check()


CONF = '''\
[smtp]
max_message_size = {size}
bare_newline = {bare}
'''


def part_reload(t):
    conf = os.path.join(h.tempdir(), 'sluice.conf')
    with open(conf, 'w') as f:
        f.write(CONF.format(size='10k', bare='reject'))
    d = h.Sluice(t, extra_args=['--config', conf]).start()
    sp = h.Spool(t, d.spool)
    t.equal(ehlo_size(d.port), 10240, '[smtp] max_message_size = 10k from --config: SIZE 10240')
    tid = h.new_id()
    msg = h.make_message(tid, subject='reload', size=20000)
    t.equal(h.codes(data_txn(d.port, msg) or []), [552, 250, 221], '20 KB message: 552')
    with open(conf, 'w') as f:
        f.write(CONF.format(size='1M', bare='normalize'))
    os.kill(d.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 10
    size = None
    while time.monotonic() < deadline:
        size = ehlo_size(d.port)
        if size == 1024 * 1024:
            break
        time.sleep(0.1)
    t.require(size == 1024 * 1024, 'after SIGHUP, EHLO advertises the reloaded SIZE 1048576',
              f'SIZE {size}\n{d.log_tail()}')
    t.check(d.alive(), 'sluiced keeps running across SIGHUP')
    r = data_txn(d.port, msg)
    t.equal(h.codes(r or []), [250, 250, 221], 'the same 20 KB message after reload: 250')
    tid2 = h.new_id()
    head = h.make_message(tid2, subject='normalize', body=b'legit body\r\n')
    smuggled = (b'MAIL FROM:<admin@victim.example>\r\nRCPT TO:<target@dest.example>\r\n'
                b'DATA\r\nSubject: smuggled\r\n\r\nSMUGGLED\r\n')
    wire = head.rstrip(b'\r\n') + b'\n.\n' + smuggled
    r = data_txn(d.port, wire)
    t.equal(h.codes(r or []), [250, 250, 221],
            'bare_newline = normalize: "\\n.\\n" + smuggled commands get ONE reply (250)')
    index = sp.by_test_id()
    got = index.get(tid, [])
    t.check(len(got) == 1 and got[0].content == msg, 'the 20 KB message is stored byte for byte')
    got = index.get(tid2, [])
    want = head.rstrip(b'\r\n') + b'\r\n.\r\n' + smuggled
    if t.check(len(got) == 1, 'the normalized message is stored once', got):
        t.equal(got[0].content, want, 'normalize: bare LF stored as CRLF, the smuggled lines '
                'stay inside the one message')
    t.equal(sum(len(v) for v in index.values()), 2,
            'no smuggled message was stored (2 messages in the spool)')
    d.stop_and_check()


def run(t):
    part_flag(t)
    part_reload(t)


if __name__ == '__main__':
    h.main(run)
