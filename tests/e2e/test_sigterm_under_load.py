# SPDX-License-Identifier: MIT
"""Graceful shutdown: 8 smtplib threads send mail (bounded: at most 8 x 400 messages); once 1000
messages have been acknowledged, sluiced gets SIGTERM mid-load. It must stop accepting, finish
or refuse what is in flight, and exit 0 within its shutdown deadline (shutdown_timeout,
10 s by default). No acknowledged message may be lost, and every transaction a client started
after the greeting must end with 250 or 421 (never a dropped connection or another code)."""

import time

import sluice_harness as h

SHUTDOWN_TIMEOUT = 10.0  # docs/CONFIG.md: [sluice] shutdown_timeout default
SLACK = 5.0


def run(t):
    d = h.Sluice(t, workers=2).start()
    sp = h.Spool(t, d.spool)
    load = h.Load(d.port, threads=8, per_thread=400).start()
    n = load.wait_acked(1000, timeout=20)
    t.require(load.running() and n >= 1,
              f'the load is running when SIGTERM comes ({n} messages acknowledged)',
              f'outcomes {dict(load.outcomes)} {load.errors[:5]}')
    t_term = time.monotonic()
    rc, elapsed = d.stop(timeout=SHUTDOWN_TIMEOUT + SLACK)
    load.stop()
    t.check(load.join(60), 'every load thread ends after the shutdown')
    t.note(f'SIGTERM at t={t_term:.3f} after {n} acknowledgements; exit status {rc} after '
           f'{elapsed:.2f} s; {len(load.sent)} messages attempted; outcomes {dict(load.outcomes)}')
    t.check(rc == 0, f'sluiced exits 0 on SIGTERM under load within shutdown_timeout + '
            f'{SLACK:.0f} s ({elapsed:.2f} s)', f'exit status {rc}\n{d.log_tail()}')
    bad = {k: v for k, v in load.outcomes.items() if k not in ('acked', 421, 'no-greeting')}
    t.check(not bad, 'every transaction ended with 250 or 421 (or the connection was refused '
            'before the greeting); none was dropped without a reply',
            f'{bad}; examples: {load.errors[:8]}')
    entries = sp.load()
    h.check_acked_in_spool(t, load, entries, 'after SIGTERM')
    rc, out = sp.verify()
    t.check(rc == 0, 'sluice-spool verify exits 0 after the shutdown', out[-2000:])


if __name__ == '__main__':
    h.main(run)
