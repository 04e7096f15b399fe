# SPDX-License-Identifier: MIT
"""curl's SMTP client against sluiced: `curl smtp://127.0.0.1:PORT/DOMAIN --mail-from A
--mail-rcpt B -T FILE` with a small message holding dot lines, and a 2 MB message. curl stuffs
dots and sends the file as it is; the spool must hold exactly the file."""

import subprocess

import sluice_harness as h


def send(t, d, tmp, name, msg, rcpts):
    path = f'{tmp}/{name}.eml'
    with open(path, 'wb') as f:
        f.write(msg)
    argv = [h.require_tool('curl'), '-sS', '--max-time', '60',
            f'smtp://127.0.0.1:{d.port}/client.example', '--mail-from', 'curl@client.example']
    for r in rcpts:
        argv += ['--mail-rcpt', r]
    argv += ['-T', path]
    r = subprocess.run(argv, capture_output=True, timeout=90, stdin=subprocess.DEVNULL)
    t.check(r.returncode == 0, f'curl {name}: exit 0 (the message was accepted)',
            f'exit {r.returncode}: {r.stderr.decode(errors="replace")[-1500:]}')


def run(t):
    h.require_tool('curl')
    tmp = h.tempdir()
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        cases = []
        tid = h.new_id()
        msg = h.make_message(tid, subject='curl small',
                             body=b'.dot first\r\n..\r\n.\r\nend of body\r\n')
        send(t, d, tmp, 'small', msg, ['c1@dest.example', 'c2@dest.example'])
        cases.append(('small', tid, msg, ['c1@dest.example', 'c2@dest.example']))
        tid = h.new_id()
        msg = h.make_message(tid, subject='curl large', size=2 * 1024 * 1024)
        send(t, d, tmp, 'large', msg, ['c3@dest.example'])
        cases.append(('2 MB', tid, msg, ['c3@dest.example']))
        index = sp.by_test_id()
        for name, tid, msg, rcpts in cases:
            found = index.get(tid, [])
            if not t.check(len(found) == 1, f'curl {name}: stored once', f'{len(found)}'):
                continue
            t.equal(found[0].content, msg, f'curl {name}: the file is stored byte for byte')
            t.equal((found[0].mail_from, found[0].rcpt), ('curl@client.example', rcpts),
                    f'curl {name}: envelope')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
