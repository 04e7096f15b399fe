# SPDX-License-Identifier: MIT
"""Python smtplib against sluiced: one plain message, then several messages on one connection
(several recipients, the null reverse-path, RSET between transactions). Each message is read
back from the spool and compared byte for byte, with its envelope."""

import smtplib

import sluice_harness as h


def plain_message(t, d, sp):
    tid = h.new_id()
    msg = h.make_message(tid, subject='plain')
    with smtplib.SMTP('127.0.0.1', d.port, local_hostname='client.example', timeout=15) as s:
        code, _ = s.ehlo()
        t.check(code == 250, 'EHLO gets 250')
        refused = s.sendmail('alice@client.example', ['bob@dest.example'], msg)
        t.check(refused == {}, 'the recipient is accepted (250 to RCPT)')
    found = sp.by_test_id().get(tid, [])
    t.require(len(found) == 1, 'a message acknowledged with 250 is in the spool exactly once',
              f'found {len(found)} copies')
    e = found[0]
    t.equal(e.content, msg, 'stored message == bytes sent (after the Received: field)')
    t.equal(e.mail_from, 'alice@client.example', 'envelope sender stored')
    t.equal(e.rcpt, ['bob@dest.example'], 'envelope recipient stored')
    t.check(b'test.sluice' in e.received, 'Received: names the server (--hostname)',
            repr(e.received))


def several_on_one_connection(t, d, sp):
    sent = []
    with smtplib.SMTP('127.0.0.1', d.port, local_hostname='client.example', timeout=15) as s:
        for k in range(5):
            tid = h.new_id()
            msg = h.make_message(tid, subject=f'batch {k}', size=300 * (k + 1))
            rcpts = [f'r{k}-{j}@dest.example' for j in range(k + 1)]
            sender = '' if k == 2 else f'sender{k}@client.example'
            refused = s.sendmail(sender, rcpts, msg)
            t.check(refused == {}, f'message {k}: all {len(rcpts)} recipients accepted')
            sent.append((tid, sender, rcpts, msg))
            if k == 3:
                t.check(s.rset()[0] == 250, 'RSET between transactions gets 250')
        # An abandoned transaction must not be stored.
        t.check(s.mail('ghost@client.example')[0] == 250, 'MAIL for an abandoned transaction')
        t.check(s.rcpt('ghost@dest.example')[0] == 250, 'RCPT for an abandoned transaction')
        t.check(s.rset()[0] == 250, 'RSET drops the open transaction')
        t.check(s.noop()[0] == 250, 'NOOP gets 250')
    index = sp.by_test_id()
    for k, (tid, sender, rcpts, msg) in enumerate(sent):
        found = index.get(tid, [])
        if not t.check(len(found) == 1, f'message {k} on the shared connection stored once',
                       f'found {len(found)}'):
            continue
        e = found[0]
        t.equal(e.content, msg, f'message {k} stored byte for byte')
        t.equal(e.mail_from, sender, f'message {k} envelope sender'
                + (' (null reverse-path <>)' if not sender else ''))
        t.equal(e.rcpt, rcpts, f'message {k} envelope recipients, in order')
    total = sum(len(v) for v in index.values())
    t.equal(total, 1 + len(sent), 'nothing else is in the spool (the RSET transaction is not)')


def run(t):
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        plain_message(t, d, sp)
        several_on_one_connection(t, d, sp)
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
