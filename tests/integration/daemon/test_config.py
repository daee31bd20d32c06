#!/usr/bin/env python3
"""kaifa-meterd's configuration: every bad file gives exactly one line
"FILE:LINE: message" on stderr and exit code 78 (EX_CONFIG), both when
starting and with --check-config; good files (the commented sample, files
with quotes, indentation and comments) pass; the sample documents every key
the daemon knows; the command line answers --help, --version and usage
errors (64)."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmtest as k  # noqa: E402

SAMPLE = os.path.join(k.SOURCE_DIR, "config", "kaifa-meter.conf")

# (what, file content, line the message must name, words the message must contain)
BAD = [
    ("unknown section", "[serial]\nport = /dev/ttyUSB0\n[postgres]\nhost = x\n", 3, "unknown section [postgres]"),
    ("unknown empty section", "[serial]\n[files]\n", 2, "unknown section [files]"),
    ("unknown key", "[mqtt]\nhost = a\nhots = b\n", 3,
     "unknown key 'hots' in [mqtt] (known: host port client_id username password password_file tls cafile"),
    ("key outside any section", "port = 1\n[serial]\n", 1, "outside of any section"),
    ("duplicate key", "[mqtt]\nport = 1883\n\nport = 1884\n", 4, "set twice"),
    ("port not a number", "[mqtt]\nport = abc\n", 2, "not a whole number"),
    ("port out of range", "[mqtt]\nport = 70000\n", 2, "out of range"),
    ("qos out of range", "[mqtt]\nqos = 3\n", 2, "out of range (0 to 2)"),
    ("keepalive too small", "[mqtt]\nkeepalive = 1\n", 2, "out of range"),
    ("queue_limit negative", "[mqtt]\nqueue_limit = -5\n", 2, "out of range"),
    ("bad baud rate", "[serial]\nbaud = 2401\n", 2, "not a supported baud rate"),
    ("bad parity", "[serial]\nparity = mark\n", 2, "not a parity"),
    ("bad data_bits", "[serial]\ndata_bits = 9\n", 2, "out of range (7 to 8)"),
    ("empty port", "[serial]\nport =\n", 2, "a value is required"),
    ("bad meter list", "[meter]\nlist = 4\n", 2, "not a meter list"),
    ("bad boolean", "[homeassistant]\ndiscovery = maybe\n", 2, "not a boolean"),
    ("unknown time zone", "[meter]\ntimezone = Europe/Atlantis\n", 2, "no time zone 'Europe/Atlantis'"),
    ("time zone path", "[meter]\ntimezone = ../../etc/passwd\n", 2, "not a time zone name"),
    ("capacity steps gap", "[capacity]\nsteps = 0-2, 3-5\n", 2, "step 2 of '0-2, 3-5'"),
    ("capacity enabled", "[capacity]\nenabled = perhaps\n", 2, "not a boolean"),
    ("bad log level", "[log]\nlevel = loud\n", 2, "not a log level"),
    ("wildcard in prefix", "[mqtt]\nprefix = kaifa/#\n", 2, "wildcard"),
    ("prefix with trailing slash", "[mqtt]\nprefix = kaifa/\n", 2, "must not start or end"),
    ("space in client id", "[mqtt]\nclient_id = my meter\n", 2, "client_id"),
    ("password and password_file", "[mqtt]\nusername = u\npassword = p\npassword_file = @PWFILE@\n", 4,
     "both set"),
    ("password without username", "[mqtt]\n\npassword = p\n", 3, "needs a username"),
    ("missing password_file", "[mqtt]\nusername = u\npassword_file = /nonexistent/pw\n", 3,
     "No such file or directory"),
    ("missing cafile", "[mqtt]\ncafile = /nonexistent/ca.pem\n", 2, "No such file or directory"),
    ("certfile without keyfile", "[mqtt]\ncafile = @PEM@\ncertfile = @PEM@\n", 3, "go together"),
    ("syntax error", "[serial]\nthis line has no equals sign\n", 2, "syntax error"),
    ("missing bracket", "[serial\nport = x\n", 1, "without ']'"),
    ("line too long", "[meter]\nname = " + "x" * 300 + "\n", 2, "too long"),
    # [postgresql]
    ("postgresql without table", "[serial]\n[postgresql]\ndbname = power\n", 2, "[postgresql] table is required"),
    ("postgresql empty table", "[postgresql]\ntable =\n", 2, "a table name is required"),
    ("postgresql table too long", "[postgresql]\ntable = " + "t" * 64 + "\n", 2, "longer than 63 bytes"),
    ("postgresql port not a number", "[postgresql]\ntable = t\nport = pg\n", 3, "not a whole number"),
    ("postgresql port out of range", "[postgresql]\ntable = t\nport = 65536\n", 3, "out of range (1 to 65535)"),
    ("postgresql queue_size too small", "[postgresql]\ntable = t\nqueue_size = 5\n", 3, "out of range (10 to"),
    ("postgresql missing password_file", "[postgresql]\ntable = t\n\npassword_file = /nonexistent/pgpw\n", 4,
     "No such file or directory"),
    ("postgresql bad conninfo", "[postgresql]\ntable = t\nconninfo = host=db port\n", 3, "bad connection string"),
    ("postgresql bad conninfo URI", "[postgresql]\ntable = t\nconninfo = postgresql://db?nosuchoption=1\n", 3,
     "bad connection string"),
    ("postgresql unknown key", "[postgresql]\ntable = t\npassword = x\n", 3, "unknown key 'password' in [postgresql]"),
    ("postgresql key twice", "[postgresql]\ntable = t\n[file]\npath = @DIR@/readings.jsonl\n[postgresql]\ntable = u\n", 6,
     "'table' in [postgresql] is set twice (first on line 2)"),
    # [file]
    ("file without path", "[log]\nlevel = info\n[file]\n", 3, "[file] path is required"),
    ("file relative path", "[file]\npath = readings.jsonl\n", 2, "not an absolute path"),
    ("file path is a directory", "[file]\npath = /var/log/kaifa-meter/\n", 2, "names a directory"),
    ("file unknown key", "[file]\npath = @DIR@/readings.jsonl\nformat = pretty\n", 3, "unknown key 'format' in [file] (known: path)"),
    # values that passed the check and failed at run time (issue 8)
    ("prefix not UTF-8", b"[mqtt]\nprefix = kaifa\xff\n", 2, "[mqtt] prefix: the topic prefix is not valid UTF-8"),
    ("prefix overlong UTF-8", b"[mqtt]\nprefix = a\xc0\xafb\n", 2, "not valid UTF-8"),
    ("discovery_prefix not UTF-8", b"[homeassistant]\ndiscovery_prefix = ha\xc3(\n", 2,
     "[homeassistant] discovery_prefix: the topic prefix is not valid UTF-8"),
    ("discovery_prefix wildcard", "[homeassistant]\ndiscovery_prefix = homeassistant/+\n", 2, "wildcard"),
    ("prefix with a plus", "[mqtt]\nprefix = a+b\n", 2, "wildcard"),
    ("username not UTF-8", b"[mqtt]\nusername = \xe9ric\n", 2, "[mqtt] username: not valid UTF-8"),
    ("client_id not UTF-8", b"[mqtt]\nclient_id = k\xe9\n", 2, "client_id is not valid UTF-8"),
    ("cafile is a directory", "[mqtt]\ncafile = @DIR@\n", 2, "is a directory, not a file"),
    ("cafile is /dev/zero", "[mqtt]\ncafile = /dev/zero\n", 2, "/dev/zero is not a regular file"),
    ("cafile is not PEM", "[mqtt]\ncafile = @PWFILE@\n", 2, "is not a PEM file"),
    ("keyfile is a directory", "[mqtt]\ncafile = @PEM@\ncertfile = @PEM@\nkeyfile = @DIR@\n", 4,
     "is a directory, not a file"),
    ("mqtt password_file is /dev/zero", "[mqtt]\nusername = u\npassword_file = /dev/zero\n", 3,
     "/dev/zero is not a regular file"),
    ("mqtt password_file with a NUL", "[mqtt]\nusername = u\npassword_file = @NULPW@\n", 3,
     "the first line contains a NUL byte"),
    ("file path is a directory without '/'", "[file]\npath = @DIR@\n", 2, "names a directory"),
    ("file path is a device", "[file]\npath = /dev/null\n", 2, "/dev/null is not a regular file"),
    ("file path is /etc/shadow", "[file]\npath = /etc/shadow\n", 2, "/etc/shadow is not"),
    ("file path is not JSON lines", "[file]\npath = @PWFILE@\n", 2, "is not a JSON-lines file"),
    ("postgresql password_file is /dev/zero", "[postgresql]\ntable = t\npassword_file = /dev/zero\n", 3,
     "/dev/zero is not a regular file"),
    ("postgresql password_file too big", "[postgresql]\ntable = t\npassword_file = @BIG@\n", 3, "is too big"),
    ("postgresql password_file is a directory", "[postgresql]\ntable = t\npassword_file = @DIR@\n", 3,
     "is a directory"),
    ("tls not a boolean", "[mqtt]\ntls = maybe\n", 2, "[mqtt] tls: 'maybe' is not auto or a boolean"),
    ("cafile with tls = no", "[mqtt]\ncafile = @PEM@\ntls = no\n", 3, "cafile is set but tls = no"),
    ("certfile without TLS", "[mqtt]\ncertfile = @PEM@\nkeyfile = @PEM@\ntls = auto\n", 3, "certfile needs TLS"),
    ("NUL byte in a value", b"[mqtt]\nhost = broker\x00.example\n", 2, "NUL byte"),
    ("NUL byte in a comment", b"[mqtt]\n# \x00\nhost = a\n", 2, "NUL byte"),
    ("meter name with a blank", "[meter.my meter]\nport = /dev/x\n", 1, "use only letters"),
    ("two meters on one port", "[meter.a]\nport = /dev/ttyUSB0\n[meter.b]\nport = /dev/ttyUSB0\n", 4,
     "[meter.b] port /dev/ttyUSB0 is the port of [meter.a] too"),
    ("plain and named meter on one port", "[serial]\nport = /dev/ttyS1\n[meter.b]\nport = /dev/ttyS1\n", 4,
     "is the port of [meter] too"),
    ("unknown key in a meter section", "[meter.a]\nhots = b\n", 2,
     "unknown key 'hots' in [meter.a] (known: port baud parity data_bits transport list name id"),
    ("mqtt source without a topic", "[meter.a]\nport = mqtt://\n", 2, "mqtt:// needs a topic"),
    ("two meters with one id", "[meter.a]\nport = /dev/a\nid = x\n[meter.b]\nport = /dev/b\nid = x\n", 6,
     "[meter.b] id x is taken by another meter"),
    ("key twice in a meter section", "[meter.a]\nbaud = 2400\nbaud = 9600\n", 3, "set twice"),
    ("key_file and key in a meter section", "[meter.a]\nkey = 000102030405060708090a0b0c0d0e0f\n"
     "key_file = @PWFILE@\n", 3, "key_file"),
]


def run(args, timeout=10, **kw):
    """The daemon's result; one that is still running after timeout (it took
    a bad file for a good one) is killed and has returncode None."""
    env = dict(os.environ)
    env.pop("JOURNAL_STREAM", None)
    env.pop("INVOCATION_ID", None)
    try:
        return subprocess.run([k.DAEMON] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              env=env, **kw)
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, None, e.stdout or b"", (e.stderr or b"") + b"(still running)\n")


def main():
    k.need(k.DAEMON)
    work = k.Workdir()
    try:
        pwfile = work.file("pw")
        with open(pwfile, "w") as f:
            f.write("secret\n")
        files = {"@PWFILE@": pwfile, "@DIR@": work.path, "@PEM@": work.file("ca.pem"),
                 "@NULPW@": work.file("nul.pw"), "@BIG@": work.file("big.pw")}
        with open(files["@PEM@"], "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
        with open(files["@NULPW@"], "wb") as f:
            f.write(b"sec\x00ret\n")
        with open(files["@BIG@"], "w") as f:
            f.write("x" * 5000 + "\n")
        kinds = 0
        for what, text, line, words in BAD:
            path = work.file("bad-%02d.conf" % kinds)
            data = text if isinstance(text, bytes) else text.encode()
            for name, value in files.items():
                data = data.replace(name.encode(), value.encode())
            with open(path, "wb") as f:
                f.write(data)
            for args in (["-c", path], ["--check-config", "-c", path]):
                r = run(args, timeout=3)
                err = r.stderr.decode("utf-8", "replace")
                lines = err.splitlines()
                ok = (r.returncode == 78 and len(lines) == 1
                      and lines[0].startswith("%s:%d: " % (path, line)) and words in lines[0])
                k.check(ok, "%s (%s): exit 78 and one line '%s:%d: ...%s...' (got %s, %r)"
                        % (what, args[0], os.path.basename(path), line, words, r.returncode, err.strip()))
            kinds += 1
        k.check(kinds >= 10, "at least ten kinds of bad config (%d)" % kinds)

        # a [file] path on a read-only file system (as under the unit's ProtectSystem=strict):
        # a read-only bind mount in a private mount namespace, which needs root
        rodir = work.file("ro")
        os.mkdir(rodir)
        roconf = work.file("ro.conf")
        with open(roconf, "w") as f:
            f.write("[file]\npath = %s/sub/readings.jsonl\n" % rodir)
        script = ('mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" || exit 99; '
                  'exec "$1" --check-config -c "$2"')
        r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, rodir, k.DAEMON,
                            roconf], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10) \
            if os.geteuid() == 0 and shutil.which("unshare") else None
        if r is None or r.returncode == 99:
            print("skip - [file] path on a read-only file system (needs root and mount namespaces)")
        else:
            k.check(r.returncode == 78 and r.stderr.decode().startswith(roconf + ":2: ")
                    and "read-only file system" in r.stderr.decode(),
                    "[file] path on a read-only file system: exit 78, %s:2 (%r)" % (os.path.basename(roconf),
                                                                                    r.stderr.decode().strip()))

        # drop-ins: conf.d/*.conf beside the file, in name order; a key set
        # again there wins; an error names the drop-in and its line
        ddir = work.file("dropins")
        os.makedirs(os.path.join(ddir, "conf.d"))
        dmain = os.path.join(ddir, "main.conf")
        with open(dmain, "w") as f:
            f.write("[mqtt]\nport = 1883\n[meter.a]\nport = /dev/ttyUSB0\n")
        with open(os.path.join(ddir, "conf.d", "10-b.conf"), "w") as f:
            f.write("[mqtt]\nport = 1884\n[meter.b]\nport = tcp://han:3000\n")
        with open(os.path.join(ddir, "conf.d", "20-a.conf"), "w") as f:
            f.write("[meter.a]\nbaud = 9600\n")
        with open(os.path.join(ddir, "conf.d", "notes.txt"), "w") as f:
            f.write("not read\n")
        r = run(["--dump-config", "-c", dmain])
        out = r.stdout.decode()
        k.check(r.returncode == 0 and "port = 1884" in out and "[meter.b]\nport = tcp://han:3000" in out
                and re.search(r"\[meter\.a\]\nport = /dev/ttyUSB0\nbaud = 9600", out) is not None,
                "drop-ins add meters and override keys (%s, %r)" % (r.returncode, r.stderr.decode().strip()))
        bad_dropin = os.path.join(ddir, "conf.d", "30-bad.conf")
        with open(bad_dropin, "w") as f:
            f.write("[meter.c]\nport = /dev/ttyUSB1\nbaud = 1\n")
        r = run(["--check-config", "-c", dmain])
        k.check(r.returncode == 78 and r.stderr.decode().startswith(bad_dropin + ":3: "),
                "an error in a drop-in names it and its line (%r)" % r.stderr.decode().strip())
        with open(bad_dropin, "w") as f:
            f.write("[meter.c]\nport = /dev/ttyUSB0\n")
        r = run(["--check-config", "-c", dmain])
        k.check(r.returncode == 78 and r.stderr.decode().startswith(bad_dropin + ":2: ")
                and "is the port of [meter.a] too" in r.stderr.decode(),
                "a port used in the main file and a drop-in: the drop-in's line (%r)" % r.stderr.decode().strip())

        r = run(["-c", work.file("does-not-exist.conf")])
        k.check(r.returncode == 78 and len(r.stderr.decode().splitlines()) == 1
                and "does-not-exist.conf: cannot open" in r.stderr.decode(),
                "missing file: exit 78 and one line (%r)" % r.stderr.decode().strip())

        r = run(["--check-config", "-c", SAMPLE])
        k.check(r.returncode == 0, "the sample config is valid (%r)" % r.stderr.decode().strip())

        good = work.file("good.conf")
        with open(good, "w") as f:
            f.write("# comment\n; comment\n[serial]\n  port = \"/dev/ttyAMA0\"  ; inline comment\n"
                    "parity = NONE\nbaud=9600\ndata_bits = 7\n[ meter ]\nname = \"My meter\"\nlist = kaifa\n"
                    "[mqtt]\nusername = u\npassword_file = %s\nqos = 0\nprefix = home/meters\n"
                    "[homeassistant]\ndiscovery = off\n[log]\nlevel = warning\n" % pwfile)
        r = run(["--dump-config", "-c", good])
        out = r.stdout.decode()
        k.check(r.returncode == 0, "quotes, indentation, blanks in headers and comments are accepted (%r)"
                % r.stderr.decode().strip())
        for want in ("port = /dev/ttyAMA0", "parity = none", "baud = 9600", "data_bits = 7", "name = My meter", "list = kaifa",
                     "password_file = %s" % pwfile, "qos = 0", "prefix = home/meters", "discovery = no",
                     "level = warning"):
            k.check(want in out, "effective config has '%s'" % want)
        k.check("secret" not in out, "the password is never printed")
        # only password_file set: no password line that says one was written in the file
        k.check(re.search(r"^password =$", out, re.M) is not None and "********" not in out,
                "with password_file only, the dump shows 'password =' empty, not masked (%r)"
                % [l for l in out.splitlines() if l.startswith("password")])
        with open(good, "w") as f:
            f.write("[mqtt]\nusername = u\npassword = secret\n")
        r = run(["--dump-config", "-c", good])
        out = r.stdout.decode()
        k.check(r.returncode == 0 and re.search(r"^password = \*{8}$", out, re.M) is not None
                and re.search(r"^password_file =$", out, re.M) is not None and "secret" not in out,
                "with password set, the dump masks it (%r)" % [l for l in out.splitlines() if l.startswith("password")])
        for ci in ("host=/run/postgresql password=secret", "postgresql://meter:secret@db/power"):
            with open(good, "w") as f:
                f.write("[postgresql]\nconninfo = %s\ntable = t\n" % ci)
            r = run(["--dump-config", "-c", good])
            k.check(r.returncode == 0 and "secret" not in r.stdout.decode() and "conninfo = ********" in
                    r.stdout.decode(), "a password in conninfo is never printed (%s)" % ci.split("=")[0])

        # the sample documents every key, with its default
        r = run(["--dump-config", "-c", SAMPLE])
        defaults = r.stdout.decode()
        blocks = {}
        cur = None
        # an optional section is shown commented out: "#[postgresql]"
        for l in open(SAMPLE).read().splitlines():
            m = re.match(r"#?\[(\w+)\]", l)
            if m:
                cur = m.group(1)
            blocks[cur] = blocks.get(cur, "") + l + "\n"
        sample = open(SAMPLE).read()
        # the optional sections appear in the effective config when turned on
        optional = work.file("optional.conf")
        with open(optional, "w") as f:
            f.write("[postgresql]\ntable = readings\n[file]\npath = /var/log/kaifa-meter/readings.jsonl\n")
        r = run(["--dump-config", "-c", optional])
        k.check(r.returncode == 0 and "[postgresql]" in r.stdout.decode() and "[file]" in r.stdout.decode()
                and "[postgresql]" not in defaults, "[postgresql] and [file] are dumped when present only")
        defaults += "\n" + "\n".join(l for l in r.stdout.decode().splitlines()
                                     if not l.startswith(("table =", "path =")))
        for must in ("table", "path"):
            k.check(re.search(r"^#%s =[ \t]*$" % must, sample, re.M) is not None,
                    "sample shows the required key %s, empty" % must)
        section = None
        for l in defaults.splitlines():
            m = re.match(r"\[(\w+)\]", l)
            if m:
                section = m.group(1)
                k.check("[%s]" % section in sample, "sample has section [%s]" % section)
                continue
            m = re.match(r"(\w+) =[ \t]*(.*)$", l)
            if not m:
                continue
            key, value = m.group(1), m.group(2).strip()
            documented = re.search(r"^#%s =[ \t]*(.*)$" % key, blocks.get(section, ""), re.M)
            k.check(documented is not None, "sample documents [%s] %s" % (section, key))
            if documented and key != "password":
                k.check(documented.group(1).strip() == value, "sample shows the default of %s: %r (daemon %r)"
                        % (key, documented.group(1).strip(), value))

        r = run(["--version"])
        k.check(r.returncode == 0 and r.stdout.decode().startswith("kaifa-meterd "), "--version")
        r = run(["--help"])
        k.check(r.returncode == 0 and "--check-config" in r.stdout.decode(), "--help")
        r = run(["--no-such-option"])
        k.check(r.returncode == 64, "unknown option: exit 64 (got %d)" % r.returncode)
        r = run(["-c", SAMPLE, "extra"])
        k.check(r.returncode == 64, "stray argument: exit 64 (got %d)" % r.returncode)
    finally:
        work.cleanup()
    k.finish()


if __name__ == "__main__":
    main()
