# SPDX-License-Identifier: MIT
"""RFC 2920 pipelining over a raw socket: whole transactions written in one socket write.
Checks the exact sequence of replies (one per command, in order, nothing extra) and the spool."""

import sluice_harness as h


def greet(t, d):
    c = h.RawSmtp(d.port)
    t.check(c.reply()[0] == 220, 'greeting 220')
    ehlo = c.command('EHLO client.example')
    t.check(ehlo[0] == 250 and 'PIPELINING' in h.ehlo_keywords(ehlo), 'EHLO advertises PIPELINING',
            ehlo)
    return c


def txn(mail_from, rcpts, msg):
    cmds = f'MAIL FROM:<{mail_from}>\r\n' + ''.join(f'RCPT TO:<{r}>\r\n' for r in rcpts)
    return cmds.encode() + b'DATA\r\n' + msg + b'.\r\n'


def run(t):
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        expect = {}

        # 1: one transaction, two recipients, body and end of data, all in one write.
        c = greet(t, d)
        tid = h.new_id()
        msg = h.make_message(tid, subject='pipelined one')
        c.send(txn('p1@client.example', ['x@dest.example', 'y@dest.example'], msg))
        r = c.replies(5)
        t.equal(h.codes(r), [250, 250, 250, 354, 250],
                'one write MAIL+RCPT+RCPT+DATA+body+".": one reply per command, in order')
        t.check(h.queued_id(r[4][1][-1]) is not None, 'end of data says "queued as ID"', r[4])
        expect[tid] = ('p1@client.example', ['x@dest.example', 'y@dest.example'], msg)
        t.check(c.command('QUIT')[0] == 221, 'QUIT gets 221')
        c.close()

        # 2: two transactions, RSET, NOOP and QUIT in a single write.
        c = greet(t, d)
        tids = [h.new_id(), h.new_id()]
        msgs = [h.make_message(x, subject='pipelined two', size=4000) for x in tids]
        wire = (txn('p2@client.example', ['a@dest.example'], msgs[0]) + b'RSET\r\n'
                + txn('p3@client.example', ['b@dest.example', 'c@dest.example'], msgs[1])
                + b'NOOP\r\nQUIT\r\n')
        c.send(wire)
        r = c.replies_until_close()
        t.equal(h.codes(r), [250, 250, 354, 250, 250, 250, 250, 250, 354, 250, 250, 221],
                'two transactions + RSET + NOOP + QUIT in one write: exactly 12 replies')
        c.close()
        expect[tids[0]] = ('p2@client.example', ['a@dest.example'], msgs[0])
        expect[tids[1]] = ('p3@client.example', ['b@dest.example', 'c@dest.example'], msgs[1])

        # 3: a bad recipient inside the pipeline: its own error reply, the rest proceeds.
        c = greet(t, d)
        tid = h.new_id()
        msg = h.make_message(tid, subject='pipelined bad rcpt')
        c.send(b'MAIL FROM:<p4@client.example>\r\nRCPT TO:<good@dest.example>\r\n'
               b'RCPT TO:<no closing bracket\r\nRCPT TO:<good2@dest.example>\r\nDATA\r\n'
               + msg + b'.\r\nQUIT\r\n')
        r = c.replies_until_close()
        cs = h.codes(r)
        t.check(len(cs) == 7 and cs[:2] == [250, 250] and 500 <= cs[2] < 600
                and cs[3:] == [250, 354, 250, 221],
                'a malformed RCPT in a pipeline gets a 5xx; the other commands are unaffected',
                r)
        c.close()
        expect[tid] = ('p4@client.example', ['good@dest.example', 'good2@dest.example'], msg)

        index = sp.by_test_id()
        for k, (x, (mf, rc, m)) in enumerate(expect.items()):
            found = index.get(x, [])
            if not t.check(len(found) == 1, f'pipelined message {k} stored once',
                           f'found {len(found)}'):
                continue
            t.equal(found[0].content, m, f'pipelined message {k} stored byte for byte')
            t.equal((found[0].mail_from, found[0].rcpt), (mf, rc),
                    f'pipelined message {k} envelope (only accepted recipients)')
        t.equal(sum(len(v) for v in index.values()), len(expect),
                'the RSET and the replies did not create extra messages')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
