# SPDX-License-Identifier: MIT
"""Regression: "421 4.3.0 Too much pipelined input" at end of data under spool back-pressure.

With 100 KB messages from 100 concurrent sessions, the spool's batch buffers run out (EAGAIN)
and connections block in DATA. A multishot receive kept draining the socket after the pause
was asked for, so a blocked connection's 32 KiB receive buffer overflowed and a client that
sent nothing after the final "." got 421. Receiving is now bounded (one buffer per armed
receive, armed only with room for it): TCP flow control is the only back-pressure.

The run uses sluice-blast (bench/blast), 2000 messages of 100 KiB over 100 sessions, with a
small spool batch configuration that forces EAGAIN, bounded by --timeout and a 60 s cap, and
checks: every message 250, zero 4xx/5xx, and exactly as many messages in the spool
(`sluice-spool list --json`) as were acknowledged. Skips (77) when sluice-blast is not built.
"""

import json
import os
import subprocess

import sluice_harness as h

SESSIONS = 100
MESSAGES = 2000

CONFIG = """[limits]
max_connections_per_client = 0
[spool]
batch_bytes = 256k
batch_buffers = 2
"""


def blast_path():
    sluiced = h.binary('SLUICE_E2E_SLUICED', 'sluiced')
    build = os.path.dirname(os.path.dirname(os.path.abspath(sluiced)))
    return os.path.join(build, 'bench', 'blast', 'sluice-blast')


def run(t):
    blast = blast_path()
    if not os.access(blast, os.X_OK):
        raise h.Skip(f'sluice-blast not built at {blast}')
    conf = os.path.join(h.tempdir(), 'sluice.conf')
    with open(conf, 'w') as f:
        f.write(CONFIG)
    with h.Sluice(t, workers=2, extra_args=['--config', conf]) as s:
        s.start()
        r = subprocess.run([blast, '--sessions', str(SESSIONS), '--size', '100k', '--messages',
                            str(MESSAGES), '--timeout', '30', '--json', f'127.0.0.1:{s.port}'],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        t.require(r.returncode in (0, 1), 'sluice-blast runs to the end',
                  r.stderr.decode(errors='replace')[-2000:])
        res = json.loads(r.stdout)
        t.equal(res['replies']['4xx'], 0, 'no 4xx reply to well-behaved pipelining clients')
        t.equal(res['replies']['5xx'], 0, 'no 5xx reply')
        t.equal(res['messages']['ok'], MESSAGES, f'all {MESSAGES} messages get 250')
        t.check(not res.get('reject_samples'), 'no rejection text sampled',
                str(res.get('reject_samples')))
        t.check('pipelined' not in s.log_text(), 'no "too much pipelined input" in the log',
                s.log_tail())
        s.stop_and_check()
    entries = h.Spool(t, s.spool).list()
    t.equal(len(entries), res['messages']['ok'], 'every acknowledged message is in the spool')


if __name__ == '__main__':
    h.main(run)
