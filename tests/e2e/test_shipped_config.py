# SPDX-License-Identifier: MIT
"""The configuration shipped in conf/ (conf/sluice.conf and its per-worker files in
conf/cores/) starts sluiced as documented: one worker per core file, then a message sent over
each of several connections (spread by SO_REUSEPORT over the workers) lands in the spool,
byte for byte, and the daemon stops cleanly. Only the listen address, spool and user are
overridden on the command line."""

import glob
import os
import re

import sluice_harness as h


def run(t):
    conf = os.path.join(h.source_root(), 'conf', 'sluice.conf')
    if not os.path.isfile(conf):
        raise h.Skip(f'no shipped configuration at {conf}')
    ncores = len(glob.glob(os.path.join(h.source_root(), 'conf', 'cores', '*.conf')))
    d = h.Sluice(t, workers=None, extra_args=['--config', conf]).start()
    m = re.search(r'(\d+) workers?', d.ready_line)
    want = max(ncores, 1)
    t.check(m and int(m.group(1)) == want,
            f'--config conf/sluice.conf starts one worker per file in conf/cores ({want})',
            d.ready_line)
    sp = h.Spool(t, d.spool)
    sent = {}
    for k in range(8):
        tid = h.new_id()
        msg = h.make_message(tid, subject=f'shipped config {k}', size=200 * k)
        qid = h.send_get_id(d.port, 'conf@client.example', ['r@dest.example'], msg)
        sent[tid] = (qid, msg)
    index = sp.by_test_id()
    ok = all(len(index.get(x, [])) == 1 and index[x][0].content == m and index[x][0].id == q
             for x, (q, m) in sent.items())
    t.check(ok, '8 messages over 8 connections are stored byte for byte under their queue ids')
    workers = {os.path.basename(p) for p in glob.glob(os.path.join(d.spool, 'core-*'))}
    t.note(f'spool directories: {sorted(workers)}')
    d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
