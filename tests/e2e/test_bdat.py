# SPDX-License-Identifier: MIT
"""CHUNKING (RFC 3030) over a raw socket: BDAT chunks with BDAT n LAST, chunks ended by
BDAT 0 LAST, a fully pipelined BDAT transaction, a large chunk spread over many TCP segments,
and DATA refused after BDAT. BDAT content is stored exactly: no dot unstuffing, no end marker."""

import time

import sluice_harness as h

# Content that a DATA parser would treat specially: must pass through BDAT untouched.
TRICKY = b'.leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n\r\n.\r\n'


def session(t, d):
    c = h.RawSmtp(d.port)
    c.reply()
    ehlo = c.command('EHLO client.example')
    t.check('CHUNKING' in h.ehlo_keywords(ehlo), 'EHLO advertises CHUNKING', ehlo)
    return c


def envelope(t, c, mail_from, rcpt):
    t.check(c.command(f'MAIL FROM:<{mail_from}>')[0] == 250, 'MAIL gets 250')
    t.check(c.command(f'RCPT TO:<{rcpt}>')[0] == 250, 'RCPT gets 250')


def bdat(c, chunk, last=False):
    c.send(f'BDAT {len(chunk)}{" LAST" if last else ""}\r\n'.encode() + chunk)
    return c.reply()


def chunks_then_last(t, d):
    tid = h.new_id()
    msg = h.make_message(tid, subject='bdat', body=TRICKY + b'end\r\n')
    c = session(t, d)
    envelope(t, c, 'b1@client.example', 'r1@dest.example')
    # Cut inside the header, between CR and LF, and right after the "\r\n.\r\n" sequence.
    cuts = [0, 7, msg.index(b'\r\n\r\n') + 1, msg.index(b'\r\n.\r\n') + 5, len(msg) - 3]
    parts = [msg[a:b] for a, b in zip(cuts, cuts[1:])]
    ok = all(bdat(c, p)[0] == 250 for p in parts)
    t.check(ok, f'{len(parts)} BDAT chunks (cut inside CRLF) each get 250')
    r = bdat(c, msg[cuts[-1]:], last=True)
    t.check(r[0] == 250 and h.queued_id(r[1][-1]), 'BDAT n LAST gets 250 queued as ID', r)
    t.check(c.command('QUIT')[0] == 221, 'QUIT gets 221')
    c.close()
    return tid, msg, 'b1@client.example', ['r1@dest.example']


def chunks_then_zero_last(t, d):
    tid = h.new_id()
    msg = h.make_message(tid, subject='bdat zero last', body=TRICKY, size=3000)
    c = session(t, d)
    envelope(t, c, 'b2@client.example', 'r2@dest.example')
    half = len(msg) // 2
    t.check(bdat(c, msg[:half])[0] == 250 and bdat(c, msg[half:])[0] == 250,
            'two BDAT chunks get 250 each')
    r = bdat(c, b'', last=True)
    t.check(r[0] == 250 and h.queued_id(r[1][-1]), 'BDAT 0 LAST ends the message: 250', r)
    c.command('QUIT')
    c.close()
    return tid, msg, 'b2@client.example', ['r2@dest.example']


def pipelined(t, d):
    tid = h.new_id()
    msg = h.make_message(tid, subject='bdat pipelined', body=TRICKY)
    c = session(t, d)
    a, b = msg[:50], msg[50:]
    c.send(b'MAIL FROM:<b3@client.example>\r\nRCPT TO:<r3@dest.example>\r\n'
           + f'BDAT {len(a)}\r\n'.encode() + a + f'BDAT {len(b)} LAST\r\n'.encode() + b
           + b'QUIT\r\n')
    r = c.replies_until_close()
    t.equal(h.codes(r), [250, 250, 250, 250, 221],
            'MAIL+RCPT+BDAT+BDAT LAST+QUIT in one write: one reply each, in order')
    c.close()
    return tid, msg, 'b3@client.example', ['r3@dest.example']


def large_chunk(t, d):
    tid = h.new_id()
    msg = h.make_message(tid, subject='bdat large', size=300_000)
    c = session(t, d)
    envelope(t, c, 'b4@client.example', 'r4@dest.example')
    c.send(f'BDAT {len(msg)} LAST\r\n'.encode())
    for i in range(0, len(msg), 7000):  # many writes: the chunk spans many segments
        c.send(msg[i:i + 7000])
        if i % 70000 == 0:
            time.sleep(0.005)
    r = c.reply()
    t.check(r[0] == 250, f'one {len(msg)}-octet BDAT LAST chunk over many segments: 250', r)
    c.command('QUIT')
    c.close()
    return tid, msg, 'b4@client.example', ['r4@dest.example']


def data_after_bdat(t, d):
    c = session(t, d)
    envelope(t, c, 'b5@client.example', 'r5@dest.example')
    t.check(bdat(c, b'Subject: never stored\r\n')[0] == 250, 'a first BDAT chunk: 250')
    r = c.command('DATA')
    t.check(r[0] == 503, 'DATA after BDAT in the same transaction gets 503 (RFC 3030)', r)
    t.check(c.command('RSET')[0] == 250, 'RSET then gets 250')
    t.check(c.command('QUIT')[0] == 221, 'QUIT gets 221')
    c.close()


def run(t):
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        cases = [chunks_then_last(t, d), chunks_then_zero_last(t, d), pipelined(t, d),
                 large_chunk(t, d)]
        data_after_bdat(t, d)
        index = sp.by_test_id()
        for k, (tid, msg, mf, rc) in enumerate(cases):
            found = index.get(tid, [])
            if not t.check(len(found) == 1, f'BDAT message {k} stored once', f'{len(found)}'):
                continue
            t.equal(found[0].content, msg, f'BDAT message {k} stored exactly (no unstuffing)')
            t.equal((found[0].mail_from, found[0].rcpt), (mf, rc), f'BDAT message {k} envelope')
        t.equal(sum(len(v) for v in index.values()), len(cases),
                'the transaction reset after DATA-after-BDAT stored nothing')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
