# SPDX-License-Identifier: MIT
"""Postfix relaying to sluiced: a private Postfix instance (own config directory, queue and data
directories, no inet listener, relayhost = [127.0.0.1]:PORT, nothing delivered locally) gets
three messages through its sendmail command and relays them over SMTP to sluiced (Postfix's
client uses EHLO and PIPELINING). Each must land in the spool with its envelope, the headers we
set, and a body identical to what was submitted; the queue id Postfix logs as "queued as ID"
must be the spool's id."""

import os
import pwd
import re
import subprocess
import time

import sluice_harness as h

MASTER_CF = '''\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
showq     unix  n       -       n       -       -       showq
'''


def main_cf(d, port):
    return f'''\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
daemon_directory = /usr/lib/postfix/sbin
command_directory = /usr/sbin
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-e2e
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
myhostname = postfix-e2e.client.example
mydomain = client.example
myorigin = $myhostname
mydestination =
local_recipient_maps =
relay_domains =
alias_maps =
alias_database =
relayhost = [127.0.0.1]:{port}
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtp_tls_security_level = none
smtputf8_enable = yes
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
notify_classes =
biff = no
'''


class Postfix:
    """A private Postfix instance in its own directory; stop() ends it (master PID last)."""

    def __init__(self, t, port):
        self.t = t
        self.postfix = h.require_tool('postfix')
        self.sendmail = h.require_tool('sendmail')
        try:
            self.uid = pwd.getpwnam('postfix').pw_uid
        except KeyError:
            raise h.Skip('no postfix user (the postfix package is not installed properly)')
        if os.geteuid() != 0:
            raise h.Skip('starting a private Postfix instance needs root')
        self.dir = h.tempdir('sluice-postfix-')
        os.chmod(self.dir, 0o755)  # Postfix daemons run as the postfix user
        os.mkdir(f'{self.dir}/queue', 0o755)
        os.mkdir(f'{self.dir}/data', 0o700)
        os.chown(f'{self.dir}/data', self.uid, -1)
        with open(f'{self.dir}/main.cf', 'w') as f:
            f.write(main_cf(self.dir, port))
        with open(f'{self.dir}/master.cf', 'w') as f:
            f.write(MASTER_CF)
        self.started = False

    def cmd(self, *args, timeout=60):
        return subprocess.run([self.postfix, '-c', self.dir] + list(args), capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self):
        r = self.cmd('start')
        self.started = True
        self.t.require(r.returncode == 0, 'private Postfix instance starts (postfix -c DIR start)',
                       (r.stdout + r.stderr).decode(errors='replace') + self.log())

    def master_pid(self):
        try:
            with open(f'{self.dir}/queue/pid/master.pid') as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        self.cmd('stop')
        deadline = time.monotonic() + 15
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        if pid:
            try:
                os.kill(pid, 9)  # its children exit when the master is gone
            except ProcessLookupError:
                pass

    def submit(self, sender, rcpts, text):
        r = subprocess.run([self.sendmail, '-C', self.dir, '-i', '-f', sender, '--'] + rcpts,
                           input=text, capture_output=True, timeout=60)
        self.t.check(r.returncode == 0, f'sendmail -C DIR accepts the message for {rcpts}',
                     (r.stdout + r.stderr).decode(errors='replace'))

    def log(self):
        try:
            with open(f'{self.dir}/maillog', errors='replace') as f:
                return f.read()
        except OSError:
            return ''


def submission(tid, subject, body_lines):
    """What we hand to sendmail (LF line ends) and the body Postfix must relay (CRLF)."""
    headers = ['From: Relay Test <relay@client.example>', 'To: <dest@dest.example>',
               f'Subject: {subject}', f'X-E2E-Id: {tid}']
    text = '\n'.join(headers) + '\n\n' + '\n'.join(body_lines) + '\n'
    body = ('\r\n'.join(body_lines) + '\r\n').encode('utf-8')
    return text.encode('utf-8'), headers, body


def run(t):
    h.require_tool('postfix')
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        pf = Postfix(t, d.port)
        try:
            pf.start()
            cases = []
            big = [f'line {k:05d} of a larger relayed body, plain ASCII text' for k in range(3000)]
            for subject, rcpts, body in (
                    ('relay one', ['one@dest.example'],
                     ['first body line', '.a line starting with a dot', '..two dots', '.',
                      'UTF-8 body line: Grüße, 日本語', 'last line']),
                    ('relay three recipients',
                     ['a@dest.example', 'b@dest.example', 'c@other.example'], ['short body']),
                    ('relay large', ['big@dest.example'], big)):
                tid = h.new_id()
                text, headers, want = submission(tid, subject, body)
                pf.submit('relay@client.example', rcpts, text)
                cases.append((subject, tid, rcpts, headers, want))
            entries = sp.wait_for_count(len(cases), timeout=45)
            t.require(len(entries) >= len(cases),
                      f'all {len(cases)} messages relayed by Postfix arrive in the spool '
                      'within 45 s', f'spool holds {len(entries)}\nPostfix log:\n{pf.log()}')
            index = sp.by_test_id(sp.load())
            log = pf.log()
            for subject, tid, rcpts, headers, want in cases:
                found = index.get(tid, [])
                if not t.check(len(found) == 1, f'[{subject}] stored once', f'{len(found)}'):
                    continue
                e = found[0]
                head, _, body = e.content.partition(b'\r\n\r\n')
                t.equal(body, want, f'[{subject}] body relayed by Postfix stored byte for byte')
                hl = head.decode('utf-8', 'replace').split('\r\n')
                t.check(all(x in hl for x in headers),
                        f'[{subject}] the headers we set arrive unchanged', head)
                t.check(hl and hl[0].startswith('Received: by postfix-e2e.client.example'),
                        f"[{subject}] Postfix's own Received: follows Sluice's", hl[:2])
                t.equal((e.mail_from, sorted(e.rcpt)), ('relay@client.example', sorted(rcpts)),
                        f'[{subject}] envelope sender and recipients as submitted')
                m = re.search(r'status=sent \(250 .*queued as ' + re.escape(str(e.id)) + r'\)',
                              log)
                t.check(m, f'[{subject}] Postfix logged "status=sent (250 ... queued as '
                        f'{e.id})": the 250 names the spool id', log[-2000:])
        finally:
            pf.stop()
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
