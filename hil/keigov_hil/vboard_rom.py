"""The virtual dev board's boot ROM: what a MicroPython board does around main.py, for
the unix port behind a pty. Runs under MicroPython only (hil/keigov_hil/vboard.py starts it).

The unix port's own REPL speaks the raw REPL, but it cannot stand in for a board's: at a
soft reset (Ctrl-D at an empty raw REPL, which mpremote sends before its first command)
it exits, and it has no machine.reset(). So this script does the board's part, in the
board's words (and os.stat("") is the current directory, as on a board's filesystem):

  boot     run boot.py, then main.py, from the board's filesystem (the working
           directory); an exception or a KeyboardInterrupt in them prints its traceback
           and the friendly REPL starts, as on a pyboard
  REPL     friendly (">>> ", Ctrl-A raw, Ctrl-B banner, Ctrl-C cancel, Ctrl-D soft reset)
           and raw ("raw REPL; CTRL-B to exit", code up to Ctrl-D, "OK", output, 0x04,
           error, 0x04, ">"; raw-paste, mpremote's fast way in, with 512-byte windows)
  resets   a soft reset prints "MPY: soft reboot" and a hard one (machine.reset()) says
           nothing; either ends this process with a status that tells hil/keigov_hil/vboard.py how
           to start the next one (fresh heap and modules, as a reset gives)

The console is stdin/stdout: the pty master, non-blocking. main.py gets the board's
wiring as its argv (--hw), as boot firmware hands a board its hardware.
"""
import io
import os
import select
import sys

EXIT_HARD = 80      # machine.reset(): boot again, main.py runs
EXIT_SOFT = 81      # soft reset from the friendly REPL: boot again, main.py runs
EXIT_SOFT_RAW = 82  # soft reset from the raw REPL: boot.py only, then the raw REPL

_RAW_BANNER = "raw REPL; CTRL-B to exit\r\n"
_WINDOW = 512  # raw-paste window: bytes the host may send before the next 0x01


class Console:
    def __init__(self):
        self.inp = sys.stdin.buffer
        self.out = sys.stdout.buffer
        self.poller = select.poll()
        self.poller.register(self.inp, select.POLLIN)
        self.buf = bytearray(256)
        self.at = 0
        self.end = 0

    def getc(self):
        """The next input byte, waiting for it."""
        while self.at >= self.end:
            n = self.inp.readinto(self.buf)
            if n:
                self.at = 0
                self.end = n
            else:
                self.poller.poll(1000)
        self.at += 1
        return self.buf[self.at - 1]

    def write(self, text):
        data = text.encode() if isinstance(text, str) else text
        at = 0
        stalls = 0
        while at < len(data) and stalls < 100:  # nobody reading: drop, as a UART would
            try:
                n = self.out.write(data[at:])
            except OSError:
                n = 0
            if n:
                at += n
            else:
                stalls += 1
                select.poll().poll(2)


class _Machine:
    """The unix port's machine module, with a board's resets."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def reset(self):
        raise SystemExit(EXIT_HARD)

    def soft_reset(self):
        raise SystemExit(EXIT_SOFT)

    def bootloader(self):
        raise SystemExit(EXIT_HARD)


class _Os:
    """The unix port's os module, with a board filesystem's view of "": the current
    directory (mpremote's `cp FILE :` stats "" to see that its destination exists)."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def stat(self, path):
        return self._real.stat(path or ".")

    def listdir(self, path="."):
        return self._real.listdir(path or ".")

    def ilistdir(self, path="."):
        return self._real.ilistdir(path or ".")


class Rom:
    def __init__(self, console):
        self.con = console
        self.globals = {"__name__": "__main__"}

    def banner(self):
        v = sys.implementation.version
        self.con.write("MicroPython v%d.%d.%d on unix; keigov virtual board\r\n"
                       'Type "help()" for more information.\r\n' % (v[0], v[1], v[2]))

    def traceback(self, exc):
        s = io.StringIO()
        sys.print_exception(exc, s)
        self.con.write(s.getvalue().replace("\n", "\r\n"))

    def run(self, code, name="<stdin>", single=False):
        """Execute; returns an exit status for a reset, else None (errors printed)."""
        try:
            if single:
                try:
                    value = eval(compile(code, name, "eval"), self.globals)
                except SyntaxError:
                    value = None
                    exec(compile(code, name, "exec"), self.globals)
                if value is not None:
                    self.con.write(repr(value) + "\r\n")
            else:
                exec(compile(code, name, "exec"), self.globals)
        except SystemExit as e:
            code = e.args[0] if e.args else 0
            return code if code in (EXIT_HARD, EXIT_SOFT, EXIT_SOFT_RAW) else EXIT_SOFT
        except BaseException as e:  # noqa: B036  (the REPL reports everything, KeyboardInterrupt included)
            self.traceback(e)
        return None

    def run_file(self, name):
        try:
            with open(name) as f:
                src = f.read()
        except OSError:
            return None
        return self.run(src, name)

    def friendly(self):
        """The friendly REPL; returns "raw" or an exit status."""
        con = self.con
        self.banner()
        lines = []
        line = ""
        con.write(">>> ")
        while True:
            c = con.getc()
            if c == 1:
                con.write("\r\n")
                return "raw"
            if c == 2:
                con.write("\r\n")
                self.banner()
                lines, line = [], ""
                con.write(">>> ")
            elif c == 3:
                con.write("\r\n>>> ")
                lines, line = [], ""
            elif c == 4:
                if not lines and not line:
                    con.write("\r\nMPY: soft reboot\r\n")
                    return EXIT_SOFT
            elif c == 8 or c == 127:
                if line:
                    line = line[:-1]
                    con.write("\b \b")
            elif c == 13 or c == 10:
                con.write("\r\n")
                if lines or line.rstrip().endswith(":"):
                    lines.append(line)
                    line = ""
                    if lines[-1].strip():
                        con.write("... ")
                        continue
                    code, lines = "\n".join(lines), []
                else:
                    code, line = line, ""
                if code.strip():
                    status = self.run(code, single=True)
                    if status is not None:
                        return status
                con.write(">>> ")
            elif c >= 32:
                line += chr(c)
                con.write(chr(c))

    def raw(self):
        """The raw REPL (mpremote's); returns "friendly" or an exit status."""
        con = self.con
        con.write(_RAW_BANNER + ">")
        code = bytearray()
        while True:
            c = con.getc()
            if c == 1:
                if code == b"\x05A":
                    status = self.exec_raw(self.paste())
                    if status is not None:
                        return status
                else:
                    con.write(_RAW_BANNER + ">")
                code = bytearray()
            elif c == 2:
                con.write("\r\n")
                return "friendly"
            elif c == 3:
                code = bytearray()
            elif c == 4:
                con.write("OK")
                if not code:
                    con.write("\r\nMPY: soft reboot\r\n")
                    return EXIT_SOFT_RAW
                status = self.exec_raw(code)
                if status is not None:
                    return status
                code = bytearray()
            else:
                code.append(c)

    def paste(self):
        """Raw-paste mode: the code arrives in windows the host may send without waiting
        for echoes, each acknowledged with 0x01, ended by 0x04."""
        con = self.con
        con.write(b"R\x01" + bytes((_WINDOW & 0xFF, _WINDOW >> 8)))
        code = bytearray()
        taken = 0
        while True:
            c = con.getc()
            if c == 4:
                con.write(b"\x04")
                return code
            code.append(c)
            taken += 1
            if taken == _WINDOW:
                taken = 0
                con.write(b"\x01")

    def exec_raw(self, code):
        """Run raw REPL code: output, 0x04, the error's traceback, 0x04, the prompt."""
        err = io.StringIO()
        try:
            exec(compile(bytes(code).decode(), "<stdin>", "exec"), self.globals)
        except SystemExit as e:
            return e.args[0] if e.args and e.args[0] in (EXIT_HARD, EXIT_SOFT) else EXIT_SOFT_RAW
        except BaseException as e:  # noqa: B036
            sys.print_exception(e, err)
        self.con.write(b"\x04" + err.getvalue().encode() + b"\x04>")
        return None


def main(argv):
    opts = {"--fs": ".", "--mode": "boot", "--hw": ""}
    for i in range(0, len(argv) - 1, 2):
        opts[argv[i]] = argv[i + 1]
    os.chdir(opts["--fs"])
    sys.path[:] = ["", ".frozen", "lib"]
    sys.argv[:] = ["main.py"] + opts["--hw"].split()
    import machine

    sys.modules["machine"] = _Machine(machine)
    sys.modules["os"] = _Os(os)
    rom = Rom(Console())
    status = rom.run_file("boot.py")
    if status is None and opts["--mode"] == "boot":
        status = rom.run_file("main.py")
    mode = "raw" if opts["--mode"] == "raw" else "friendly"
    while status is None:
        result = rom.friendly() if mode == "friendly" else rom.raw()
        if result in ("raw", "friendly"):
            mode = result
        else:
            status = result
    sys.exit(status)


main(sys.argv[1:])
