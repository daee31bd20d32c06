#!/usr/bin/env python3
"""Seeds for fuzz_config (tests/fuzz/corpus_config): every example
configuration the project ships or documents, and the daemon tests' good and
bad files, plus a few built ones (every key, secrets, quoting, comments, one
meter per [meter.NAME] section). Deterministic, python3 standard library
only; re-run when the examples change."""
import hashlib
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.abspath(os.path.join(here, "..", ".."))
out = os.path.join(here, "corpus_config")


def read(rel):
    with open(os.path.join(top, rel), encoding="utf-8") as f:
        return f.read()


def fenced_ini(text):
    """The ```ini blocks of a markdown file."""
    return re.findall(r"```ini\n(.*?)```", text, re.S)


def man_examples(text):
    """The .EX ... .EE blocks of a man page, roff escapes undone."""
    blocks = re.findall(r"^\.EX\n(.*?)^\.EE", text, re.S | re.M)
    return [b.replace("\\-", "-").replace("\\e", "\\").replace("\\(aq", "'") for b in blocks]


def test_configs():
    """The (bad) files of tests/integration/daemon/test_config.py, with its
    placeholders made into paths that exist or do not."""
    sys.path.insert(0, os.path.join(top, "tests", "integration", "daemon"))
    import test_config  # noqa: E402  (kmtest: standard library only)
    subst = {"@PWFILE@": "/nonexistent/pw", "@PEM@": "/nonexistent/ca.pem", "@DIR@": "/nonexistent"}
    texts = []
    for case in test_config.BAD:
        t = case[1]
        if isinstance(t, bytes):
            t = t.decode("utf-8", "surrogateescape")
        for a, b in subst.items():
            t = t.replace(a, b)
        texts.append(t)
    return texts


BUILT = [
    # every key of every section, valid
    "[serial]\nport = tcp://127.0.0.1:2000\nbaud = 115200\nparity = none\ndata_bits = 8\ntransport = hdlc\n"
    "[meter]\nlist = kaifa\nname = \"Hus \u00e6\u00f8\u00e5\"\nid = meter1\nstale_after = 120\nid_wait = 5\n"
    "key = 000102030405060708090A0B0C0D0E0F\nauth_key = 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f\n"
    "[mqtt]\nhost = broker.lan\nport = 8883\nclient_id = kmd\nusername = u\npassword = \"s3cr3t pass\"\n"
    "tls = yes\nkeepalive = 30\nqos = 0\nprefix = home/power\nqueue_limit = 500\n"
    "[homeassistant]\ndiscovery = no\ndiscovery_prefix = ha\n"
    "[postgresql]\nconninfo = host=db port=5432\ndbname = power\nuser = kmd\nhost = /run/postgresql\n"
    "port = 5433\ntable = readings\nqueue_size = 100\n[log]\nlevel = warning\n",
    # P1 at 9600 7E1, hex text source, FIFO
    "[serial]\nport = /run/p1.fifo\nbaud = 9600\nparity = even\ndata_bits = 7\ntransport = p1\n"
    "[meter]\nlist = auto\n",
    # comments, blank lines, quoting, inline comments, CRLF, continuation
    "; comment\n# comment\n\n[serial]\r\nport = \"/dev/ttyAMA0\" ; inline\r\n  baud = 2400\r\n"
    "[mqtt]\nhost=localhost\nprefix : kaifa\n  continued\n",
    # duplicate section, key outside, empty section name, odd brackets
    "port = x\n[]\n[serial]\n[serial]\nport = a\n[mqtt\n]\n",
    # secrets in bad values: must never be echoed
    "[meter]\nkey = 00112233445566778899AABBCCDDEEFG\n",
    "[meter]\nkey = 00112233445566778899AABBCCDDEE\nauth_key = 00112233445566778899AABBCCDDEEFF\n",
    "[mqtt]\nusername = u\npassword = hunter2hunter2\npassword = again\n",
    "[meter]\nkey_file = /nonexistent/key\nkey = 00112233445566778899AABBCCDDEEFF\n",
    # [file] output and a JSON-lines path
    "[file]\npath = /nonexistent/dir/readings.jsonl\n",
    # several meters, one per [meter.NAME] section, each with the keys of
    # [serial] and [meter]
    "[meter.house]\nport = /dev/ttyUSB0\nbaud = 2400\nparity = auto\nlist = kaifa\nname = House\n"
    "[meter.garage]\nport = tcp://10.0.0.2:8000\ntransport = p1\nname = Garage\nid = garage\n"
    "key = 00112233445566778899AABBCCDDEEFF\n[mqtt]\nhost = localhost\n",
    "[meter.a]\nport = /dev/ttyUSB0\n[meter.a]\nport = /dev/ttyUSB1\n[meter.]\nport = x\n[meter.b c]\n",
    "[serial]\nport = /dev/ttyUSB0\n[meter.second]\nport = /dev/ttyUSB1\n",
]


def main():
    texts = []
    for rel in ("config/kaifa-meter.conf",):
        texts.append(read(rel))
    for rel in ("README.md", "docs/daemon.md", "docs/install.md", "docs/migration.md", "docs/outputs.md"):
        if os.path.exists(os.path.join(top, rel)):
            texts += fenced_ini(read(rel))
    texts += man_examples(read("man/kaifa-meter.conf.5"))
    texts += test_configs()
    texts += BUILT
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    seen = set()
    for t in texts:
        b = t.encode("utf-8", "surrogateescape")
        h = hashlib.sha1(b).hexdigest()[:16]
        if h in seen:
            continue
        seen.add(h)
        with open(os.path.join(out, h), "wb") as f:
            f.write(b)
    print("%d seeds in %s" % (len(seen), out))


if __name__ == "__main__":
    main()
