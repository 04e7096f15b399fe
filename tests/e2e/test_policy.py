# SPDX-License-Identifier: MIT
"""Policy rules in the daemon, end to end (sluiced --policy FILE, docs/POLICY.md).

With a rules file, sluiced asks the policy engine at MAIL, RCPT, on every body span and at
the end of data, before the spool commit. Checked here with smtplib and a raw socket: a
refused MAIL FROM (code, enhanced code and text from the rule); a refused recipient while the
others of the same message are accepted and stored; a body pattern sent in 3-byte writes with
short sleeps (so it spans many TCP segments and reads) refused after the end of data and not
in the spool; the same pattern split across two BDAT chunks; a tempfail (4xx); a discard
(250, nothing stored); a header rule matching a folded header; an accepted message stored
byte for byte; and SIGHUP with a broken rules file: the error is logged and the old rules
still apply; a good file then replaces them. The commit-time metadata in the spool: a tag
rule's header line comes right after the Received: field in `sluice-spool cat`, `list --json`
shows the end-of-data verdict and the matched rule ids, and a quarantined message is marked
"quarantine": true (and exported under quarantine/). Skips (77) when sluiced has no --policy."""

import os
import signal
import subprocess
import time

import sluice_harness as h

RULES = '''\
rule badfrom  mail   /^spammer@/       reject 550 5.7.1 "Sender refused by policy"
rule badrcpt  rcpt   /^nobody@/        reject 550 5.1.1 "No such user here"
rule grey     mail   /^grey@/          tempfail 451 4.7.1 "Greylisted, retry later"
rule drop     mail   /^dropme@/        discard
rule body1    body   "VIAGRA-XYZZY"    reject 554 5.7.1 "Body pattern refused"
rule folded   header:X-Fold /alpha beta/ reject 550 5.7.1 "Folded header refused"
rule tagit    subject /tag-me-please/  tag "X-Tagged: yes"
rule quar     body   "QUARANTINE-XYZZY" quarantine
'''

BROKEN = RULES + 'rule oops bdy /x/ reject\n'

NEW = RULES + 'rule newrule mail /^fresh@/ reject 550 5.7.1 "New rule applies"\n'


def skip_without_policy():
    exe = h.binary('SLUICE_E2E_SLUICED', 'sluiced')
    out = subprocess.run([exe, '--help'], capture_output=True, timeout=10)
    if b'--policy' not in out.stdout + out.stderr:
        raise h.Skip('sluiced was built without policy support (no --policy in --help)')


def session(port):
    c = h.RawSmtp(port)
    c.reply()
    c.command('EHLO client.example')
    return c


def stored_tids(sp):
    return set(sp.by_test_id(sp.load()).keys())


def check_envelope(t, port):
    c = session(port)
    r = c.command('MAIL FROM:<spammer@bad.example>')
    t.check(r[0] == 550 and r[1][0] == '5.7.1 Sender refused by policy',
            'MAIL FROM matching a reject rule: 550 5.7.1 with the rule\'s text', r)
    r = c.command('MAIL FROM:<grey@slow.example>')
    t.check(r[0] == 451 and r[1][0].startswith('4.7.1 Greylisted'),
            'MAIL FROM matching a tempfail rule: 451 4.7.1 with the rule\'s text', r)
    r = c.command('MAIL FROM:<fine@good.example>')
    t.check(r[0] == 250, 'after refused MAIL commands the session goes on: MAIL accepted', r)
    c.command('QUIT')
    c.close()


def check_rcpt(t, port, sp):
    tid = h.new_id()
    msg = h.make_message(tid, subject='rcpt')
    c = session(port)
    c.command('MAIL FROM:<fine@good.example>')
    r1 = c.command('RCPT TO:<alice@dest.example>')
    r2 = c.command('RCPT TO:<nobody@dest.example>')
    r3 = c.command('RCPT TO:<bob@dest.example>')
    t.check(r2[0] == 550 and r2[1][0] == '5.1.1 No such user here',
            'RCPT matching a reject rule: 550 5.1.1 with the rule\'s text', r2)
    t.check(r1[0] == 250 and r3[0] == 250, 'the other recipients are accepted', (r1, r3))
    c.command('DATA')
    c.send(msg + b'.\r\n')
    r = c.reply()
    t.check(r[0] == 250, 'the message to the accepted recipients gets 250', r)
    c.command('QUIT')
    c.close()
    got = sp.by_test_id(sp.load()).get(tid, [])
    t.check(len(got) == 1 and got[0].rcpt == ['alice@dest.example', 'bob@dest.example'],
            'stored once, for exactly the accepted recipients', got)


def check_body_trickle(t, port, sp):
    tid = h.new_id()
    msg = h.make_message(tid, subject='trickle',
                         body=b'line one\r\nbuy VIAGRA-XYZZY now\r\nline three\r\n')
    c = session(port)
    c.command('MAIL FROM:<fine@good.example>')
    c.command('RCPT TO:<alice@dest.example>')
    c.command('DATA')
    data = msg + b'.\r\n'
    for i in range(0, len(data), 3):
        c.send(data[i:i + 3])
        time.sleep(0.005)
    r = c.reply()
    t.check(r[0] == 554 and r[1][0] == '5.7.1 Body pattern refused',
            'a body pattern sent in 3-byte writes is found across them: 554 5.7.1', r)
    t.check(c.command('NOOP')[0] == 250, 'the session stays in sync after the refusal')
    c.close()
    t.check(tid not in stored_tids(sp), 'the refused message is not in the spool')


def check_body_bdat(t, port, sp):
    tid = h.new_id()
    msg = h.make_message(tid, subject='bdat', body=b'first\r\nbuy VIAGRA-XYZZY now\r\n')
    cut = msg.index(b'VIAGRA') + 4
    c = session(port)
    c.command('MAIL FROM:<fine@good.example>')
    c.command('RCPT TO:<alice@dest.example>')
    c.send(b'BDAT %d\r\n' % cut + msg[:cut])
    r1 = c.reply()
    c.send(b'BDAT %d LAST\r\n' % (len(msg) - cut) + msg[cut:])
    r2 = c.reply()
    t.check(r1[0] == 250 and r2[0] == 554,
            'a body pattern split across two BDAT chunks: first chunk 250, LAST 554', (r1, r2))
    c.command('QUIT')
    c.close()
    t.check(tid not in stored_tids(sp), 'the message refused after BDAT is not in the spool')


def check_discard(t, port, sp):
    tid = h.new_id()
    c = session(port)
    c.command('MAIL FROM:<dropme@any.example>')
    c.command('RCPT TO:<alice@dest.example>')
    c.command('DATA')
    c.send(h.make_message(tid, subject='discard') + b'.\r\n')
    r = c.reply()
    t.check(r[0] == 250 and 'queued as' not in r[1][0],
            'a discard rule: 250 without a queue id', r)
    c.command('QUIT')
    c.close()
    t.check(tid not in stored_tids(sp), 'the discarded message is not in the spool')


def check_folded(t, port, sp):
    tid = h.new_id()
    msg = h.make_message(tid, subject='fold', headers=[b'X-Fold: alpha\r\n beta gamma'])
    c = session(port)
    c.command('MAIL FROM:<fine@good.example>')
    c.command('RCPT TO:<alice@dest.example>')
    c.command('DATA')
    c.send(msg + b'.\r\n')
    r = c.reply()
    t.check(r[0] == 550 and r[1][0] == '5.7.1 Folded header refused',
            'a header rule matches the unfolded value of a folded header: 550', r)
    c.close()
    t.check(tid not in stored_tids(sp), 'the message with the folded header is not stored')


def check_accepted(t, port, sp):
    tid = h.new_id()
    msg = h.make_message(tid, subject='accepted', size=20000)
    qid = h.send_get_id(port, 'fine@good.example', ['alice@dest.example'], msg)
    t.check(qid is not None, 'a message matching no rule gets "250 ... queued as ID"', qid)
    got = sp.by_test_id(sp.load()).get(tid, [])
    t.check(len(got) == 1 and got[0].content == msg,
            'the accepted message is stored byte for byte', [len(e.content) for e in got])


def check_tagged(t, port, sp):
    tid = h.new_id()
    msg = h.make_message(tid, subject='tag-me-please')
    qid = h.send_get_id(port, 'fine@good.example', ['alice@dest.example'], msg)
    t.check(qid is not None, 'a message matching a tag rule is stored: 250 queued as ID', qid)
    got = sp.by_test_id(sp.load()).get(tid, [])
    t.require(len(got) == 1, 'the tagged message is stored once', got)
    e = got[0]
    t.check(e.content == b'X-Tagged: yes\r\n' + msg,
            'sluice-spool cat: the tag header line right after Received:, then the message',
            e.content[:200])
    t.check(e.raw.get('verdict') == 'pass' and e.raw.get('tags') == 'tagit',
            'list --json: the end-of-data verdict and the matched rule ids', e.raw)
    t.check(e.raw.get('quarantine') is False, 'list --json: "quarantine": false', e.raw)
    t.check(e.raw.get('size') == len(e.received) + len(e.content),
            'size counts the added header line', (e.raw.get('size'), len(e.received)))


def check_quarantine(t, port, sp):
    tid = h.new_id()
    msg = h.make_message(tid, subject='quarantine', body=b'x QUARANTINE-XYZZY y\r\n')
    qid = h.send_get_id(port, 'fine@good.example', ['alice@dest.example'], msg)
    t.check(qid is not None, 'a quarantined message gets 250 queued as ID', qid)
    got = sp.by_test_id(sp.load()).get(tid, [])
    t.require(len(got) == 1, 'the quarantined message is stored once', got)
    e = got[0]
    t.check(e.raw.get('quarantine') is True and e.raw.get('verdict') == 'quarantine' and
            e.raw.get('tags') == 'quar', 'list --json: quarantined, verdict and rule id', e.raw)
    t.check(e.content == msg, 'the quarantined message is stored byte for byte', len(e.content))
    out = os.path.join(h.tempdir(), 'qexport')
    r = sp.run('export', out)
    t.check(r.returncode == 0 and
            os.path.exists(os.path.join(out, 'quarantine', f'{e.id}.eml')) and
            not os.path.exists(os.path.join(out, f'{e.id}.eml')),
            'export puts the quarantined message under quarantine/', r.stderr[-500:])


def mail_reply(port, sender):
    c = session(port)
    r = c.command(f'MAIL FROM:<{sender}>')
    c.close()
    return r


def wait_log(d, text, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if text in d.log_text():
            return True
        time.sleep(0.05)
    return False


def check_reload(t, d, path):
    with open(path, 'w') as f:
        f.write(BROKEN)
    os.kill(d.proc.pid, signal.SIGHUP)
    t.check(wait_log(d, 'policy reload failed'),
            'SIGHUP with a broken rules file: the error is logged', d.log_tail(5))
    t.check('unknown field bdy' in d.log_text(), 'the logged error names the problem')
    r = mail_reply(d.port, 'spammer@bad.example')
    t.check(r[0] == 550, 'after the broken reload the old rules still apply (550 on MAIL)', r)
    t.check(d.alive(), 'sluiced keeps running after the broken reload')
    with open(path, 'w') as f:
        f.write(NEW)
    os.kill(d.proc.pid, signal.SIGHUP)
    t.check(wait_log(d, 'policy: new rules in use'), 'SIGHUP with a good file: workers take it')
    r = mail_reply(d.port, 'fresh@new.example')
    t.check(r[0] == 550 and r[1][0] == '5.7.1 New rule applies',
            'a rule added by the reload applies', r)


def run(t):
    skip_without_policy()
    path = os.path.join(h.tempdir(), 'policy.rules')
    with open(path, 'w') as f:
        f.write(RULES)
    d = h.Sluice(t, workers=1, extra_args=['--policy', path]).start()
    sp = h.Spool(t, d.spool)
    check_envelope(t, d.port)
    check_rcpt(t, d.port, sp)
    check_body_trickle(t, d.port, sp)
    check_body_bdat(t, d.port, sp)
    check_discard(t, d.port, sp)
    check_folded(t, d.port, sp)
    check_accepted(t, d.port, sp)
    check_tagged(t, d.port, sp)
    check_quarantine(t, d.port, sp)
    check_reload(t, d, path)
    d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
