# SPDX-License-Identifier: MIT
"""8-bit and UTF-8 mail: SMTPUTF8 (RFC 6531) addresses and headers, and 8BITMIME bodies with
every octet value a text line may hold. The envelope is checked as decoded UTF-8 and the
content byte for byte."""

import smtplib

import sluice_harness as h


def eight_bit_body():
    """Every octet 0x01-0xff except CR and LF, in 64-octet lines, plus UTF-8 text."""
    octets = bytes(b for b in range(1, 256) if b not in (10, 13))
    lines = [octets[i:i + 64] for i in range(0, len(octets), 64)]
    text = 'Grüße aus Köln — 日本語のテキスト — emoji 📬\r\n'.encode('utf-8')
    return text + b'\r\n'.join(lines) + b'\r\n' + text


def run(t):
    with h.Sluice(t) as d:
        sp = h.Spool(t, d.spool)
        with smtplib.SMTP('127.0.0.1', d.port, local_hostname='client.example', timeout=15) as s:
            s.ehlo()
            t.check(s.has_extn('smtputf8'), 'EHLO advertises SMTPUTF8')
            t.check(s.has_extn('8bitmime'), 'EHLO advertises 8BITMIME')
            # 1: SMTPUTF8 envelope and headers, 8-bit body.
            tid1 = h.new_id()
            from1, to1 = 'jörg@bücher.example', ['zoë@exämple.org', 'ascii@dest.example']
            msg1 = h.make_message(tid1, subject='Grüße', body=eight_bit_body(),
                                  headers=['X-Name: Zoë Ünïcødé'])
            refused = s.sendmail(from1, to1, msg1, mail_options=['SMTPUTF8', 'BODY=8BITMIME'])
            t.check(refused == {}, 'MAIL ... SMTPUTF8 BODY=8BITMIME with UTF-8 addresses: 250')
            # 2: ASCII envelope, 8BITMIME body only.
            tid2 = h.new_id()
            msg2 = h.make_message(tid2, subject='latin-1', body=b'caf\xe9 na\xefve \xa9\r\n')
            refused = s.sendmail('a@client.example', ['b@dest.example'], msg2,
                                 mail_options=['BODY=8BITMIME'])
            t.check(refused == {}, 'MAIL ... BODY=8BITMIME with an 8-bit body: 250')
        index = sp.by_test_id()
        e1 = index.get(tid1, [])
        if t.check(len(e1) == 1, 'the SMTPUTF8 message is stored once', f'found {len(e1)}'):
            t.equal(e1[0].content, msg1, 'UTF-8 headers and every 8-bit octet stored exactly')
            t.equal(e1[0].mail_from, from1, 'UTF-8 envelope sender stored as UTF-8')
            t.equal(e1[0].rcpt, to1, 'UTF-8 envelope recipients stored as UTF-8')
        e2 = index.get(tid2, [])
        if t.check(len(e2) == 1, 'the 8BITMIME message is stored once', f'found {len(e2)}'):
            t.equal(e2[0].content, msg2, 'non-UTF-8 8-bit octets stored exactly')
        d.stop_and_check()


if __name__ == '__main__':
    h.main(run)
