#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""test_blast_run.py - bounded runs of sluice-blast against SMTP servers on loopback.

Usage: test_blast_run.py SLUICE_BLAST TINY_SMTPD

Each scenario starts tiny_smtpd.py (a strict Python server that checks dot-stuffing, checksums,
SIZE/BODY/SMTPUTF8 parameters and pipelining) in some mode, runs sluice-blast with --json and a
hard time limit, and checks the report, the server's log and the --verify list. Then the error
paths (refused, garbage, silent, reset, 4xx, 5xx) must be counted, not crash or hang. Last, if
Postfix's smtp-sink is installed, a short run against it. Prints "N passed, M failed"; exit 0, 1,
or 77 when no server can be started at all.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what, file=sys.stderr)


class TinyServer:
    def __init__(self, script, mode, tmp):
        self.portfile = os.path.join(tmp, "port-" + mode)
        self.log = os.path.join(tmp, "log-" + mode)
        for f in (self.portfile, self.log):
            if os.path.exists(f):
                os.unlink(f)
        self.proc = subprocess.Popen([sys.executable, script, "--mode", mode, "--portfile",
                                      self.portfile, "--log", self.log, "--lifetime", "100"])
        deadline = time.time() + 10
        while not os.path.exists(self.portfile) and time.time() < deadline:
            time.sleep(0.02)
        with open(self.portfile) as f:
            self.port = int(f.read())
        self.seen = 0

    def lines(self):
        """Log lines written since the previous call."""
        time.sleep(0.1)  # the server logs right before its reply; let the last write land
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            all_lines = f.read().splitlines()
        new, self.seen = all_lines[self.seen:], len(all_lines)
        return [line.split(" ", 2) for line in new]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def blast(exe, port, *args, limit=30):
    """Runs sluice-blast; returns (exit status, parsed JSON or None, seconds)."""
    cmd = [exe, "--json", "--no-progress", "--timeout", "5"] + list(args) + [
        "127.0.0.1:%d" % port]
    t = time.time()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=limit)
    except subprocess.TimeoutExpired:
        check(False, "sluice-blast hung: " + " ".join(cmd))
        return None, None, limit
    took = time.time() - t
    try:
        rep = json.loads(p.stdout)
    except ValueError:
        check(False, "no JSON from: %s\n%s" % (" ".join(cmd), p.stderr.decode()))
        rep = None
    return p.returncode, rep, took


def expect_clean(name, rc, rep, n):
    check(rc == 0, "%s: exit %s" % (name, rc))
    if rep is None:
        return
    check(rep["messages"]["ok"] == n, "%s: %d ok, want %d" % (name, rep["messages"]["ok"], n))
    check(rep["messages"]["failed"] == 0, "%s: failures" % name)
    bad = {k: v for k, v in rep["errors"].items() if v}
    check(not bad, "%s: errors %s" % (name, bad))
    check(rep["latency_us"]["eod"]["count"] == n, "%s: EOD latency samples" % name)
    check(0 < rep["latency_us"]["eod"]["p50"] <= rep["latency_us"]["eod"]["p99"] <=
          rep["latency_us"]["eod"]["max"], "%s: percentiles ordered" % name)


def expect_server_ok(name, srv, n, verify=None):
    lines = srv.lines()
    bad = [l for l in lines if len(l) < 3 or l[2] != "ok"]
    check(not bad, "%s: server found problems: %s" % (name, bad[:5]))
    check(len(lines) == n, "%s: server logged %d messages, want %d" % (name, len(lines), n))
    ids = {l[0] for l in lines}
    check(len(ids) == len(lines), "%s: message ids not unique" % name)
    if verify is not None:
        with open(verify) as f:
            got = [l.split() for l in f.read().splitlines()]
        check(len(got) == n, "%s: verify file has %d lines" % (name, len(got)))
        server_map = {l[0]: l[1] for l in lines}
        check(all(len(g) == 2 and server_map.get(g[0]) == g[1] for g in got),
              "%s: verify ids and queue ids match the server" % name)


def run_clean_scenarios(exe, script, tmp):
    srv = TinyServer(script, "normal", tmp)
    try:
        v = os.path.join(tmp, "verify1")
        rc, rep, _ = blast(exe, srv.port, "--messages", "300", "--sessions", "20",
                           "--size", "uniform:600-30k", "--8bit", "30", "--utf8", "20",
                           "--dots", "10", "--verify", v)
        expect_clean("pipelined DATA per connection", rc, rep, 300)
        expect_server_ok("pipelined DATA per connection", srv, 300, v)
        check(rep is not None and rep["connections"]["ok"] == 300, "one connection per message")

        rc, rep, _ = blast(exe, srv.port, "--messages", "200", "--sessions", "4", "--bdat",
                           "--per-conn", "0", "--rcpts", "3", "--size", "lognormal:8k,1.0,300k",
                           "--attach", "60", "--threads", "2")
        expect_clean("BDAT persistent 3 rcpts 2 threads", rc, rep, 200)
        expect_server_ok("BDAT persistent 3 rcpts 2 threads", srv, 200)
        check(rep is not None and rep["rcpt_ok"] == 600, "3 recipients accepted per message")
        check(rep is not None and rep["connections"]["ok"] == 4, "persistent: 4 connections")

        rc, rep, _ = blast(exe, srv.port, "--messages", "150", "--sessions", "5",
                           "--pipelining", "off", "--per-conn", "7", "--size", "2k",
                           "--8bit", "50", "--utf8", "30", "--dots", "30")
        expect_clean("lockstep, 7 per connection", rc, rep, 150)
        expect_server_ok("lockstep, 7 per connection", srv, 150)

        rc, rep, took = blast(exe, srv.port, "--rate", "100", "--duration", "1.5",
                              "--sessions", "50", "--per-conn", "0", "--size", "1k")
        m = rep["messages"] if rep else {"ok": 0, "failed": 0, "unsent": 0}
        due = m["ok"] + m["failed"] + m["unsent"]
        check(rep is not None and rep["mode"] == "open", "open loop mode")
        check(149 <= due <= 151, "open loop 100/s for 1.5 s: %d messages due" % due)
        check(m["ok"] >= 100 and m["failed"] == 0, "open loop: %s" % m)
        check(took < 6, "open loop stopped on time (%.1f s)" % took)
    finally:
        srv.stop()

    srv = TinyServer(script, "nopipe", tmp)
    try:
        rc, rep, _ = blast(exe, srv.port, "--messages", "50", "--sessions", "5", "--size", "1k")
        expect_clean("server without PIPELINING", rc, rep, 50)
        expect_server_ok("server without PIPELINING", srv, 50)
        check(rep is not None and rep["fallback_pipelining"] == 50, "fallback counted")
        rc, rep, _ = blast(exe, srv.port, "--messages", "5", "--sessions", "1", "--bdat")
        check(rc == 1 and rep is not None and rep["errors"]["no_chunking"] == 5,
              "BDAT without CHUNKING is an error")
    finally:
        srv.stop()

    srv = TinyServer(script, "multiline", tmp)
    try:
        rc, rep, _ = blast(exe, srv.port, "--messages", "40", "--sessions", "4", "--size", "1k")
        expect_clean("multi-line replies", rc, rep, 40)
        expect_server_ok("multi-line replies", srv, 40)
    finally:
        srv.stop()

    # A server slower than the offered rate: latency counted from the intended send time
    # grows with the backlog while the server's own reply time stays flat.
    srv = TinyServer(script, "slow", tmp)
    try:
        rc, rep, took = blast(exe, srv.port, "--rate", "100", "--duration", "1",
                              "--sessions", "2", "--per-conn", "0", "--size", "1k")
        if rep is not None:
            lat = rep["latency_us"]
            check(lat["total"]["p99"] > 3 * lat["eod"]["p50"],
                  "coordinated omission: total p99 %.0f us vs EOD p50 %.0f us" %
                  (lat["total"]["p99"], lat["eod"]["p50"]))
            check(lat["eod"]["p50"] >= 50000, "slow server: EOD p50 %.0f us" % lat["eod"]["p50"])
            check(rep["messages"]["unsent"] > 0, "slow server: backlog left unsent")
        check(took < 8, "slow server run bounded (%.1f s)" % took)
    finally:
        srv.stop()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_error_scenarios(exe, script, tmp):
    rc, rep, took = blast(exe, free_port(), "--messages", "20", "--sessions", "5")
    check(rc == 1 and rep is not None and rep["errors"]["refused"] == 20 and
          rep["messages"]["failed"] == 20, "refused connections counted")
    check(took < 5, "refused run ends quickly")

    cases = [
        ("garbage", ["--messages", "10", "--sessions", "2"], "garbage", 10),
        ("silent", ["--messages", "4", "--sessions", "4", "--timeout", "0.5"],
         "timeout_greeting", 4),
        ("reset", ["--messages", "6", "--sessions", "2"], None, 6),
        ("reject-mail", ["--messages", "8", "--sessions", "2", "--per-conn", "0"],
         "rejected_mail", 8),
        ("reject-rcpt", ["--messages", "8", "--sessions", "2", "--rcpts", "2"],
         "rejected_rcpt", 16),
    ]
    for mode, args, kind, count in cases:
        srv = TinyServer(script, mode, tmp)
        try:
            rc, rep, took = blast(exe, srv.port, *args)
            check(rc == 1, "%s: exit %s" % (mode, rc))
            check(took < 10, "%s: bounded run (%.1f s)" % (mode, took))
            if rep is None:
                continue
            check(rep["messages"]["failed"] > 0 and rep["messages"]["ok"] == 0,
                  "%s: messages failed" % mode)
            if kind is not None:
                check(rep["errors"][kind] == count,
                      "%s: %s = %d, want %d" % (mode, kind, rep["errors"][kind], count))
            else:
                n = rep["errors"]["reset"] + rep["errors"]["eof"]
                check(n == count, "%s: reset+eof = %d, want %d" % (mode, n, count))
            if mode.startswith("reject"):
                check(rep["replies"]["4xx"] + rep["replies"]["5xx"] >= count,
                      "%s: rejections counted by class" % mode)
                want = {"reject-mail": "MAIL: 451 4.3.0 try again later",
                        "reject-rcpt": "RCPT: 550 5.1.1 no such user"}[mode]
                check(want in rep["reject_samples"],
                      "%s: sample %s" % (mode, rep["reject_samples"]))
        finally:
            srv.stop()


def run_smtp_sink(exe, tmp):
    sink = shutil.which("smtp-sink") or ("/usr/sbin/smtp-sink"
                                          if os.path.exists("/usr/sbin/smtp-sink") else None)
    if sink is None:
        print("smtp-sink not installed: skipping that part")
        return
    port = free_port()
    args = [sink, "-m", "1000"]
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
    p = subprocess.Popen(args + ["127.0.0.1:%d" % port, "256"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        rc, rep, _ = blast(exe, port, "--messages", "3000", "--sessions", "50",
                           "--per-conn", "0", "--size", "4k")
        expect_clean("smtp-sink persistent", rc, rep, 3000)
        rc, rep, _ = blast(exe, port, "--messages", "500", "--sessions", "20",
                           "--pipelining", "off", "--size", "10k")
        expect_clean("smtp-sink lockstep per connection", rc, rep, 500)
    finally:
        p.terminate()
        p.wait(5)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    exe, script = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="blast-test-") as tmp:
        try:
            TinyServer(script, "normal", tmp).stop()
        except Exception as e:  # no usable Python server: nothing to run against
            print("cannot start the test server (%s): skipping" % e)
            return 77
        run_clean_scenarios(exe, script, tmp)
        run_error_scenarios(exe, script, tmp)
        run_smtp_sink(exe, tmp)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
