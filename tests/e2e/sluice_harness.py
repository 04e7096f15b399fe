# SPDX-License-Identifier: MIT
"""sluice_harness - shared helpers for Sluice's end-to-end tests.

Each test in tests/e2e/ is a script run by /usr/bin/python3 that starts the real `sluiced`
daemon on a free loopback port with a private spool directory, drives it with a real SMTP
client, and checks what landed in the spool byte for byte (through the `sluice-spool` tool)
as well as the replies. Exit status: 0 pass, 1 fail, 77 skip (with the reason printed).

Public interface:
  main(fn)                 run fn(t) with a Checker t; maps Skip/failures to the exit status,
                           and in every case ends the processes and removes the directories
                           this module created.
  Checker                  t.check(cond, proves, detail), t.equal(got, want, proves),
                           t.fail(proves, detail); each prints PASS/FAIL with what it proves.
  Skip                     raise Skip("reason") to exit 77.
  Sluice(t, workers=2, spool=None, extra_args=(), port=None)   (workers=None: no --workers)
                           .start() (port 0 unless port is given; the bound port is read
                           from the ready line), .stop() -> (exit status, seconds),
                           .stop_and_check(), .kill9(), .port, .spool, .log_tail();
                           also a context manager.
  Spool(t, dir)            .list() -> [Entry], .cat(id) -> bytes (with Received:),
                           .load() -> [Entry] with .content (without Received:),
                           .by_test_id() -> {tid: [Entry]}, .verify() -> (status, output),
                           .wait_for_count(n, timeout).
  Load(port, threads, per_thread)  bounded smtplib load recording what got 250;
  check_acked_in_spool(t, load, entries)  every acknowledged message stored, byte-exact.
  strip_received(data)     split off the first header field, which must be Received:.
  make_message(tid, ...)   a CRLF message carrying "X-E2E-Id: tid".
  RawSmtp(port)            a raw socket SMTP client: .send(bytes), .reply(), .replies(n),
                           .command(line), .replies_until_close(), .close().
  send_get_id(port, ...)   one message through smtplib; returns the "queued as" id.
  free_port(), tempdir(), spawn(argv, ...)  tracked resources, ended/removed by main().

Binaries come from the environment (set by tests/e2e/meson.build): SLUICE_E2E_SLUICED and
SLUICE_E2E_SPOOL_TOOL. A binary that is missing makes the test skip with the path it looked
at. Set SLUICE_E2E_KEEP=1 to keep the temporary directories (spool, logs) for inspection.

Limits: every server binds 127.0.0.1 only; every wait has a timeout; the helpers never start
a process they do not end by PID.
"""

import collections
import json
import random
import smtplib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

HOSTNAME = 'test.sluice'
READY_TIMEOUT = float(os.environ.get('SLUICE_E2E_READY_TIMEOUT', '20'))
STOP_TIMEOUT = float(os.environ.get('SLUICE_E2E_STOP_TIMEOUT', '20'))
CRLF = b'\r\n'

_procs = []  # every Popen started through spawn(), ended by PID in cleanup()
_dirs = []  # every directory made by tempdir(), removed in cleanup()


class Skip(Exception):
    """Raised to end a test with exit status 77 and a reason."""


class Abort(Exception):
    """Raised after a failed check that makes the rest of the test meaningless."""


class Checker:
    """Counts checks; every check prints what it proves."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def check(self, cond, proves, detail=''):
        if cond:
            self.passed += 1
            print(f'PASS  {proves}', flush=True)
        else:
            self.failed += 1
            msg = f'FAIL  {proves}'
            if detail:
                msg += '\n      ' + str(detail).replace('\n', '\n      ')
            print(msg, flush=True)
        return bool(cond)

    def fail(self, proves, detail=''):
        return self.check(False, proves, detail)

    def require(self, cond, proves, detail=''):
        """check(), and abort the test when it fails."""
        if not self.check(cond, proves, detail):
            raise Abort(proves)

    def equal(self, got, want, proves):
        if got == want:
            return self.check(True, proves)
        return self.check(False, proves, describe_difference(got, want))

    def note(self, text):
        print(f'      {text}', flush=True)


def describe_difference(got, want):
    if isinstance(got, (bytes, bytearray)) and isinstance(want, (bytes, bytearray)):
        n = min(len(got), len(want))
        i = next((k for k in range(n) if got[k] != want[k]), n)
        lo = max(0, i - 40)
        return (f'lengths got {len(got)} want {len(want)}; first difference at offset {i}\n'
                f'got : {bytes(got[lo:i + 40])!r}\n'
                f'want: {bytes(want[lo:i + 40])!r}')
    return f'got  {got!r}\nwant {want!r}'


# ---------------------------------------------------------------------------------------------
# Resources: processes and directories, always ended/removed by main().


def tempdir(prefix='sluice-e2e-'):
    d = tempfile.mkdtemp(prefix=prefix)
    _dirs.append(d)
    return d


def spawn(argv, **kw):
    """Popen that cleanup() ends by PID (SIGKILL) if it is still running."""
    p = subprocess.Popen(argv, **kw)
    _procs.append(p)
    return p


def end_process(p, sig=signal.SIGKILL, timeout=10):
    if p.poll() is None:
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout)


def cleanup():
    for p in reversed(_procs):
        try:
            end_process(p)
        except Exception as e:  # keep cleaning up the rest
            print(f'cleanup: pid {p.pid}: {e}', file=sys.stderr)
    _procs.clear()
    for d in reversed(_dirs):
        if os.environ.get('SLUICE_E2E_KEEP'):
            print(f'kept {d}', flush=True)
        else:
            shutil.rmtree(d, ignore_errors=True)
    _dirs.clear()


def main(fn):
    """Run fn(Checker) as a test script and exit 0 (pass), 1 (fail) or 77 (skip)."""
    name = os.path.basename(sys.argv[0])
    t = Checker(name)
    status = 1

    def terminated(signum, frame):
        raise Abort(f'test killed by signal {signum} (meson timeout?)')

    # meson ends a test that times out with SIGTERM: still end the daemons and remove dirs.
    signal.signal(signal.SIGTERM, terminated)
    signal.signal(signal.SIGINT, terminated)
    try:
        fn(t)
        status = 0 if t.failed == 0 and t.passed > 0 else 1
    except Skip as e:
        print(f'SKIP  {e}', flush=True)
        status = 77
    except Abort as e:
        print(f'ABORT after failed check: {e}', flush=True)
    except Exception:
        traceback.print_exc()
        print('ERROR the test raised an exception (counted as a failure)', flush=True)
    finally:
        cleanup()
    if status != 77:
        print(f'{name}: {t.passed} passed, {t.failed} failed -> '
              f'{"PASS" if status == 0 else "FAIL"}', flush=True)
    sys.exit(status)


# ---------------------------------------------------------------------------------------------
# Binaries, ports.


def binary(env_name, default_name):
    path = os.environ.get(env_name, '')
    if not path:
        raise Skip(f'{env_name} is not set (run through meson test, or set it to the built '
                   f'{default_name})')
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise Skip(f'{default_name} is not built: no executable at {path}')
    return path


def free_port():
    """A TCP port on 127.0.0.1 that nothing listened on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def source_root():
    """The repository (SLUICE_E2E_SOURCE_ROOT from meson, else two levels above this file)."""
    return os.environ.get('SLUICE_E2E_SOURCE_ROOT') or \
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def require_tool(name):
    path = shutil.which(name) or (os.path.exists(f'/usr/sbin/{name}') and f'/usr/sbin/{name}')
    if not path:
        raise Skip(f'{name} is not installed (tools/install-deps.sh installs it)')
    return path


# ---------------------------------------------------------------------------------------------
# The daemon.


class Sluice:
    """One sluiced process on 127.0.0.1:port with its spool directory."""

    def __init__(self, t, workers=2, spool=None, extra_args=(), port=None):
        self.t = t
        self.exe = binary('SLUICE_E2E_SLUICED', 'sluiced')
        self.workers = workers
        self.spool = spool or os.path.join(tempdir(), 'spool')
        self.extra_args = list(extra_args)
        self.port = port
        self.proc = None
        self.log_path = None
        self._log = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.ready_line = ''
        self._reader = None

    def argv(self, port):
        # --user -: keep the current user (as root, sluiced would otherwise switch to nobody,
        # who cannot write the private spool directory).
        workers = ['--workers', str(self.workers)] if self.workers else []
        return [self.exe, '--listen', f'127.0.0.1:{port}', '--spool', self.spool] + workers \
            + ['--hostname', HOSTNAME, '--user', '-'] + self.extra_args

    def start(self, timeout=READY_TIMEOUT):
        """Start and wait for a line containing 'ready' on stderr. Without a fixed port,
        sluiced binds port 0 (the kernel picks a free one, no race with other tests) and the
        port is read from the ready line ("ready: listening on 127.0.0.1:PORT; ...").
        Calling it again while the daemon runs does nothing (a second daemon on the same port
        and spool would share the port through SO_REUSEPORT)."""
        if self.alive():
            return self
        os.makedirs(os.path.dirname(self.spool.rstrip('/')), exist_ok=True)
        argv = self.argv(self.port or 0)
        ok = self._start_once(argv, timeout)
        if ok and not self.port:
            m = re.search(r'127\.0\.0\.1:(\d+)', self.ready_line)
            self.t.require(m and int(m.group(1)) > 0, 'the ready line names the port bound',
                           self.ready_line)
            self.port = int(m.group(1))
        self.t.require(ok, f'sluiced starts and prints "ready" within {timeout:.0f} s',
                       f'argv: {" ".join(argv)}\nexit status: {self.proc.poll()}\n'
                       f'stderr:\n{self.log_tail()}')
        return self

    def _start_once(self, argv, timeout):
        self._log = []
        self._ready.clear()
        self.ready_line = ''
        logdir = os.path.dirname(self.spool.rstrip('/'))
        self.log_path = os.path.join(logdir, f'sluiced-{len(_procs)}.log')
        self.proc = spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return True
            if self.proc.poll() is not None:
                self._reader.join(2)
                return False
        end_process(self.proc)
        return False

    def _read_stderr(self, proc):
        with open(self.log_path, 'ab') as log:
            for line in proc.stderr:
                log.write(line)
                log.flush()
                text = line.decode('utf-8', 'replace').rstrip('\n')
                with self._lock:
                    self._log.append(text)
                if 'ready' in text.lower() and not self._ready.is_set():
                    self.ready_line = text
                    self._ready.set()

    def log_tail(self, n=40):
        with self._lock:
            return '\n'.join(self._log[-n:])

    def log_text(self):
        with self._lock:
            return '\n'.join(self._log)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM by PID; returns (exit status, seconds). SIGKILL after timeout (status None)."""
        p = self.proc
        if p is None or p.poll() is not None:
            return (p.returncode if p else None), 0.0
        t0 = time.monotonic()
        os.kill(p.pid, signal.SIGTERM)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)
            rc = None
        elapsed = time.monotonic() - t0
        if self._reader:
            self._reader.join(5)
        return rc, elapsed

    def stop_and_check(self, timeout=STOP_TIMEOUT):
        """stop(), and check the daemon exits 0 (clean shutdown; sanitizers found nothing)."""
        rc, elapsed = self.stop(timeout)
        self.t.check(rc == 0, f'sluiced exits 0 on SIGTERM (took {elapsed:.2f} s)',
                     f'exit status {rc}\nstderr tail:\n{self.log_tail()}')
        return rc

    def kill9(self):
        p = self.proc
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        if self._reader:
            self._reader.join(5)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if self.alive():
            end_process(self.proc)
        return False


# ---------------------------------------------------------------------------------------------
# The spool, read through sluice-spool.


class Entry:
    """One message listed by `sluice-spool list --json`, with its envelope normalised."""

    def __init__(self, raw):
        self.raw = raw
        self.id = _first(raw, 'id', 'queue_id', 'qid')
        self.mail_from = _first(raw, 'from', 'mail_from', 'sender', 'reverse_path')
        rcpt = _first(raw, 'rcpt', 'rcpts', 'recipients', 'to', 'forward_paths')
        if isinstance(rcpt, str):
            rcpt = [rcpt]
        self.rcpt = [r if isinstance(r, str) else _first(r, 'addr', 'address', 'path')
                     for r in (rcpt or [])]
        self.content = None  # bytes after the Received: field, filled by Spool.load()
        self.received = None

    def __repr__(self):
        return f'Entry({self.id!r}, from={self.mail_from!r}, rcpt={self.rcpt!r})'


def _first(d, *keys):
    for k in keys:
        if isinstance(d, dict) and k in d:
            return d[k]
    return None


def strip_received(data):
    """Split data into (Received: field incl. folded lines, rest). ValueError if absent."""
    if not data[:9].lower() == b'received:':
        raise ValueError(f'stored message does not start with Received: {data[:60]!r}')
    i = 0
    while True:
        j = data.find(b'\n', i)
        if j < 0:
            raise ValueError('Received: field is not terminated')
        nxt = j + 1
        if data[nxt:nxt + 1] in (b' ', b'\t'):
            i = nxt
            continue
        return data[:nxt], data[nxt:]


class Spool:
    def __init__(self, t, directory):
        self.t = t
        self.dir = directory
        self.exe = binary('SLUICE_E2E_SPOOL_TOOL', 'sluice-spool')

    def run(self, *args, timeout=60):
        return subprocess.run([self.exe, '--spool', self.dir] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)

    def list(self):
        r = self.run('list', '--json')
        if r.returncode != 0:
            self.t.require(False, 'sluice-spool list --json succeeds',
                           f'exit {r.returncode}: {r.stderr.decode(errors="replace")[-2000:]}')
        return [Entry(x) for x in parse_json_list(r.stdout)]

    def cat(self, qid):
        r = self.run('cat', str(qid))
        if r.returncode != 0:
            self.t.require(False, f'sluice-spool cat {qid} succeeds',
                           f'exit {r.returncode}: {r.stderr.decode(errors="replace")[-2000:]}')
        return r.stdout

    def load(self, bulk_over=20):
        """list() and the stored octets of every entry: entry.content is the message without
        its Received: field. Up to bulk_over messages are read with `cat ID`; more with one
        `export OUTDIR` (one process instead of one per message), cross-checked against
        `cat` for the first and last message."""
        entries = self.list()
        if len(entries) <= bulk_over:
            datas = [self.cat(e.id) for e in entries]
        else:
            datas = self._export(entries)
        for e, data in zip(entries, datas):
            try:
                e.received, e.content = strip_received(data)
            except ValueError as err:
                self.t.fail('every stored message starts with a Received: trace field',
                            f'{e.id}: {err}')
                e.received, e.content = b'', data
        return entries

    def _export(self, entries):
        out = os.path.join(tempdir('sluice-export-'), 'out')
        r = self.run('export', out, timeout=300)
        if r.returncode != 0:
            self.t.require(False, 'sluice-spool export OUTDIR succeeds',
                           f'exit {r.returncode}: {r.stderr.decode(errors="replace")[-2000:]}')
        datas = []
        for e in entries:
            try:
                sub = 'quarantine' if e.raw.get('quarantine') else ''
                with open(os.path.join(out, sub, f'{e.id}.eml'), 'rb') as f:
                    datas.append(f.read())
            except OSError as err:
                self.t.require(False, 'export writes OUTDIR/ID.eml for every listed message',
                               str(err))
        for k in (0, len(entries) - 1):
            if self.cat(entries[k].id) != datas[k]:
                self.t.fail('`sluice-spool cat ID` and `export` give the same octets',
                            entries[k].id)
        shutil.rmtree(os.path.dirname(out), ignore_errors=True)
        return datas

    def by_test_id(self, entries=None):
        out = {}
        for e in (entries if entries is not None else self.load()):
            m = re.search(rb'^X-E2E-Id: *([^\r\n]+)', e.content or b'', re.M | re.I)
            key = m.group(1).decode('ascii', 'replace') if m else None
            out.setdefault(key, []).append(e)
        return out

    def verify(self):
        r = self.run('verify', timeout=120)
        return r.returncode, (r.stdout + r.stderr).decode('utf-8', 'replace')

    def wait_for_count(self, n, timeout=30):
        """Poll list() until it shows at least n messages; returns the entries."""
        deadline = time.monotonic() + timeout
        entries = []
        while time.monotonic() < deadline:
            entries = self.list()
            if len(entries) >= n:
                return entries
            time.sleep(0.2)
        return entries


def parse_json_list(out):
    """A JSON array, or one JSON object per line."""
    text = out.decode('utf-8', 'strict').strip()
    if not text:
        return []
    if text.startswith('['):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# Messages and clients.


def new_id():
    return uuid.uuid4().hex


def make_message(tid, subject='e2e', body=None, headers=(), size=0):
    """A message with CRLF line ends, ending in CRLF, that carries X-E2E-Id: tid."""
    lines = ['From: Sender <sender@client.example>', 'To: <rcpt@dest.example>',
             f'Subject: {subject}', f'Message-ID: <{tid}@client.example>', f'X-E2E-Id: {tid}']
    lines += list(headers)
    head = CRLF.join(x.encode('utf-8') if isinstance(x, str) else x for x in lines) + CRLF
    if body is None:
        parts = [b'Hello from the end-to-end tests.\r\nSecond line.\r\n']
        n, k = len(parts[0]), 0
        while n < size:
            parts.append(f'filler line {k:06d} abcdefghijklmnopqrstuvwxyz0123456789\r\n'.encode())
            n += len(parts[-1])
            k += 1
        body = b''.join(parts)
    return head + CRLF + body


class SmtpError(Exception):
    pass


class RawSmtp:
    """A raw SMTP client on a socket: the test controls every byte and every write."""

    def __init__(self, port, timeout=15, host='127.0.0.1'):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
        self.buf += chunk
        return bool(chunk)

    def line(self):
        while b'\r\n' not in self.buf:
            if self.eof or not self._fill():
                raise SmtpError(f'connection closed; partial line {self.buf!r}')
        i = self.buf.index(b'\r\n')
        ln, self.buf = self.buf[:i], self.buf[i + 2:]
        return ln

    def reply(self):
        """One reply: (code, [text lines]). Raises SmtpError on malformed or closed."""
        texts = []
        while True:
            ln = self.line()
            m = re.match(rb'^([2-5][0-9][0-9])([- ]|$)(.*)$', ln, re.S)
            if not m:
                raise SmtpError(f'malformed reply line {ln!r}')
            texts.append(m.group(3).decode('utf-8', 'replace'))
            if m.group(2) != b'-':
                return int(m.group(1)), texts

    def replies(self, n):
        return [self.reply() for _ in range(n)]

    def replies_until_close(self, limit=100):
        out = []
        while len(out) < limit:
            try:
                out.append(self.reply())
            except SmtpError:
                if self.buf:
                    raise
                break
            except (ConnectionResetError, socket.timeout):
                break
        return out

    def command(self, line):
        self.send(line.encode('utf-8') + CRLF)
        return self.reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def codes(replies):
    return [c for c, _ in replies]


def ehlo_keywords(reply):
    """EHLO reply lines after the first, upper-cased first word."""
    return {x.split()[0].upper() for x in reply[1][1:] if x.split()}


def send_get_id(port, mail_from, rcpts, msg, timeout=15):
    """Send one message with smtplib; return the queue id from the 250 reply to the data."""
    with smtplib.SMTP('127.0.0.1', port, local_hostname='client.example', timeout=timeout) as s:
        s.ehlo()
        code, text = s.mail(mail_from)
        if code != 250:
            raise SmtpError(f'MAIL: {code} {text!r}')
        for r in rcpts:
            code, text = s.rcpt(r)
            if code != 250:
                raise SmtpError(f'RCPT: {code} {text!r}')
        code, text = s.data(msg)
        if code != 250:
            raise SmtpError(f'end of data: {code} {text!r}')
        return queued_id(text.decode('utf-8', 'replace'))


def queued_id(reply_text):
    """The queue id from '250 2.0.0 Ok: queued as ID', or None."""
    m = re.search(r'queued as ([A-Za-z0-9._-]+)', reply_text)
    return m.group(1) if m else None


# ---------------------------------------------------------------------------------------------
# Bounded load from several smtplib threads, recording what got 250.


class Load:
    """threads x smtplib clients, each sending up to per_thread messages, per_conn per
    connection, until stop() or its quota. acked[tid] = (from, rcpts, msg) for each message
    whose end of data got 250; sent[tid] likewise for every message attempted. outcomes counts
    how transactions ended: 'acked', reply codes, 'no-greeting' (refused or reset before the
    220), 'dropped' (connection lost after the greeting without a reply to the last command)."""

    def __init__(self, port, threads=8, per_thread=150, per_conn=5, seed=1):
        self.port = port
        self.per_thread = per_thread
        self.per_conn = per_conn
        self.lock = threading.Lock()
        self.acked = {}
        self.sent = {}
        self.outcomes = collections.Counter()
        self.errors = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k, seed * 1000 + k),
                                          daemon=True) for k in range(threads)]

    def start(self):
        for th in self._threads:
            th.start()
        return self

    def stop(self):
        self._stop.set()

    def join(self, timeout=60):
        deadline = time.monotonic() + timeout
        for th in self._threads:
            th.join(max(0.1, deadline - time.monotonic()))
        return not any(th.is_alive() for th in self._threads)

    def n_acked(self):
        with self.lock:
            return len(self.acked)

    def wait_acked(self, n, timeout):
        deadline = time.monotonic() + timeout
        while self.n_acked() < n and time.monotonic() < deadline and self.running():
            time.sleep(0.01)
        return self.n_acked()

    def running(self):
        return any(th.is_alive() for th in self._threads)

    def _outcome(self, what, detail=None):
        with self.lock:
            self.outcomes[what] += 1
            if detail and len(self.errors) < 20:
                self.errors.append(detail)

    def _run(self, k, seed):
        rnd = random.Random(seed)
        count = 0
        while not self._stop.is_set() and count < self.per_thread:
            try:
                s = smtplib.SMTP('127.0.0.1', self.port, local_hostname='load.example',
                                 timeout=20)
            except smtplib.SMTPConnectError as e:
                self._outcome(e.smtp_code, f'greeting {e.smtp_code} {e.smtp_error!r}')
                time.sleep(0.02)
                continue
            except (OSError, smtplib.SMTPServerDisconnected):
                self._outcome('no-greeting')
                time.sleep(0.02)
                continue
            try:
                for _ in range(self.per_conn):
                    if self._stop.is_set() or count >= self.per_thread:
                        break
                    count += 1
                    if not self._one(s, k, rnd):
                        break
                else:
                    s.quit()
            except (OSError, smtplib.SMTPException):
                pass
            finally:
                s.close()

    def _one(self, s, k, rnd):
        """One transaction, step by step, so a failure says where it happened. True if 250."""
        tid = new_id()
        mail_from = f'load{k}@client.example'
        rcpts = [f'r{j}@dest.example' for j in range(1 + rnd.randrange(3))]
        msg = make_message(tid, subject=f'load {k}', size=rnd.choice((0, 500, 3000, 20000)))
        with self.lock:
            self.sent[tid] = (mail_from, rcpts, msg)
        step = 'EHLO'
        try:
            if not s.does_esmtp:
                code, text = s.ehlo()
                if code != 250:
                    return self._refused(code, step, text)
            step = 'MAIL'
            code, text = s.mail(mail_from)
            if code != 250:
                return self._refused(code, step, text)
            for r in rcpts:
                step = 'RCPT'
                code, text = s.rcpt(r)
                if code != 250:
                    return self._refused(code, step, text)
            step = 'DATA'
            code, text = s.docmd('DATA')
            if code != 354:
                return self._refused(code, step, text)
            step = 'message content'
            try:
                s.sock.sendall(smtplib._quote_periods(msg) + b'.\r\n')
            except OSError as e:
                # The server may have replied before closing: read what arrived.
                step = f'message content (write failed: {e}; then read reply)'
            code, text = s.getreply()
            if code != 250:
                return self._refused(code, step, text)
        except (OSError, smtplib.SMTPServerDisconnected) as e:
            self._outcome('dropped', f'at {step}, t={time.monotonic():.3f}: '
                          f'{type(e).__name__}: {e}')
            return False
        with self.lock:
            self.acked[tid] = (mail_from, rcpts, msg)
            self.outcomes['acked'] += 1
        return True

    def _refused(self, code, step, text):
        self._outcome(code, f'{step}: {code} {text!r} t={time.monotonic():.3f}')
        return False


def check_acked_in_spool(t, load, entries, label):
    """Every acked message stored exactly once, byte for byte with its envelope; nothing stored
    twice; anything stored but not acked is still a complete message that was sent."""
    index = {}
    for e in entries:
        m = re.search(rb'^X-E2E-Id: *([^\r\n]+)', e.content or b'', re.M | re.I)
        index.setdefault(m.group(1).decode() if m else None, []).append(e)
    missing = [x for x in load.acked if x not in index]
    t.check(not missing, f'{label}: all {len(load.acked)} messages acknowledged with 250 are in '
            'the spool', f'{len(missing)} missing, e.g. {missing[:5]}')
    bad = []
    for x, (mf, rc, msg) in load.acked.items():
        for e in index.get(x, []):
            if e.content != msg or e.mail_from != mf or e.rcpt != rc:
                bad.append((e.id, describe_difference(e.content, msg) if e.content != msg
                            else f'envelope {e.mail_from!r} {e.rcpt!r} want {mf!r} {rc!r}'))
    t.check(not bad, f'{label}: every acknowledged message is byte-exact with its envelope',
            bad[:3])
    dups = {x: len(v) for x, v in index.items() if len(v) > 1}
    t.check(not dups, f'{label}: no message is stored twice', dups)
    extra = [x for x in index if x not in load.acked]
    torn = [x for x in extra if x not in load.sent or
            index[x][0].content != load.sent[x][2]]
    t.check(not torn, f'{label}: the {len(extra)} stored but unacknowledged messages (the 250 '
            'was lost with the connection) are complete, exact copies of what was sent',
            torn[:5])
    return index
