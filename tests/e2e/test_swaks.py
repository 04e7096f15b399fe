# SPDX-License-Identifier: MIT
"""swaks against sluiced, plain and with --pipeline (which really pipelines MAIL/RCPT/DATA).
swaks turns line ends into CRLF and ends the data with CRLF "." CRLF, so what it sends for a
file without a final line end is the file plus CRLF: that is compared byte for byte."""

import re
import subprocess

import sluice_harness as h


def send(t, d, tmp, name, extra, rcpts):
    tid = h.new_id()
    msg = h.make_message(tid, subject=f'swaks {name}',
                         body=b'.starts with a dot\r\n..two dots\r\nplain line\r\nlast line')
    path = f'{tmp}/{name}.eml'
    with open(path, 'wb') as f:
        f.write(msg)
    argv = [h.require_tool('swaks'), '--server', '127.0.0.1', '--port', str(d.port),
            '--from', 'swaks@client.example', '--to', ','.join(rcpts),
            '--helo', 'client.example', '--timeout', '20', '--data', f'@{path}'] + extra
    r = subprocess.run(argv, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    out = r.stdout.decode('utf-8', 'replace')
    t.check(r.returncode == 0, f'swaks {name}: exit 0 (every reply as expected)',
            f'exit {r.returncode}\n{out[-3000:]}\n{r.stderr.decode(errors="replace")[-1000:]}')
    t.check(re.search(r'^<- +250 .*queued as', out, re.M),
            f'swaks {name}: end of data gets "250 ... queued as"', out[-1500:])
    return tid, msg + b'\r\n', out


def run(t):
    h.require_tool('swaks')
    tmp = h.tempdir()
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        rcpts = ['one@dest.example', 'two@dest.example']
        plain = send(t, d, tmp, 'plain', [], rcpts)
        piped = send(t, d, tmp, 'pipeline', ['--pipeline'], rcpts)
        t.check(re.search(r'^ -> MAIL FROM:.*\n -> RCPT TO:.*\n -> RCPT TO:.*\n -> DATA', piped[2],
                          re.M),
                'swaks --pipeline sent MAIL, RCPT, RCPT, DATA before reading a reply',
                piped[2][:1500])
        index = sp.by_test_id()
        for name, (tid, want, _) in (('plain', plain), ('pipeline', piped)):
            found = index.get(tid, [])
            if not t.check(len(found) == 1, f'swaks {name}: stored once', f'{len(found)}'):
                continue
            t.equal(found[0].content, want, f'swaks {name}: stored byte for byte')
            t.equal((found[0].mail_from, found[0].rcpt), ('swaks@client.example', rcpts),
                    f'swaks {name}: envelope')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
