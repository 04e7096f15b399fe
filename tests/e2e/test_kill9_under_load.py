# SPDX-License-Identifier: MIT
"""Crash safety: 8 smtplib threads send mail (bounded: at most 8 x 400 messages); once 1000
messages have been acknowledged (or after 20 s), sluiced is killed with SIGKILL mid-load.
Segments are kept small ([spool] segment_size = 256k) so the load spans many segment files
and the kill can land next to a rotation. The spool is read as
the crash left it, then sluiced is restarted on the same spool (recovery). Every message that
got 250 must be there exactly once and byte-exact, `sluice-spool verify` must pass, nothing
torn may be visible, and the restarted daemon must accept new mail.

What this proves and what it cannot: SIGKILL ends the process at an arbitrary point, so the test
shows that a 250 is sent only after the message's write has completed and that recovery copes
with whatever the process left half-written. The page cache survives a process kill, so it does
not prove the fdatasync itself (that needs power loss or a fault-injecting block device)."""

import os

import sluice_harness as h


def run(t):
    conf = os.path.join(h.tempdir(), 'sluice.conf')
    with open(conf, 'w') as f:
        f.write('[spool]\nsegment_size = 256k\n')
    d = h.Sluice(t, workers=2, extra_args=['--config', conf]).start()
    sp = h.Spool(t, d.spool)
    load = h.Load(d.port, threads=8, per_thread=400).start()
    n = load.wait_acked(1000, timeout=20)
    t.require(load.running() and n >= 1,
              f'the load is running when the kill comes ({n} messages acknowledged)',
              f'outcomes {dict(load.outcomes)} {load.errors[:5]}')
    d.kill9()
    killed_at = load.n_acked()
    load.stop()
    t.check(load.join(60), 'every load thread ends after the kill')
    t.note(f'SIGKILL after {killed_at} acknowledgements; {len(load.sent)} messages attempted; '
           f'outcomes {dict(load.outcomes)}')

    before = sp.load()
    h.check_acked_in_spool(t, load, before, 'read after SIGKILL, before restart')

    segs = sum(len(f) for _, _, f in os.walk(d.spool))
    t.note(f'{segs} files in the spool at the kill')
    d2 = h.Sluice(t, workers=2, spool=d.spool, extra_args=['--config', conf]).start()
    after = sp.load()
    h.check_acked_in_spool(t, load, after, 'after restart and recovery')
    rc, out = sp.verify()
    t.check(rc == 0, 'sluice-spool verify exits 0 on the recovered spool', out[-2000:])

    tid = h.new_id()
    msg = h.make_message(tid, subject='after restart')
    qid = h.send_get_id(d2.port, 'new@client.example', ['r@dest.example'], msg)
    t.require(qid, 'the restarted daemon acknowledges new mail with "queued as ID"')
    stored = h.strip_received(sp.cat(qid))[1]
    t.equal(stored, msg, 'the restarted daemon stores new mail next to the recovered spool')
    d2.stop_and_check()
    rc, out = sp.verify()
    t.check(rc == 0, 'sluice-spool verify exits 0 after the clean shutdown', out[-2000:])


if __name__ == '__main__':
    h.main(run)
