# rustasync's gdb extension: see the jobs of a process, live or in a core.
#
#   (gdb) source /usr/local/share/rustasync/rustasync-gdb.py
#   (gdb) rustasync jobs            every job: state, thread, wait ctx, stack use
#   (gdb) rustasync bt JOB          backtrace of a paused (or idle) job
#
# The library exports `rustasync_debug_info` (src/introspect.rs): where the
# job arena is and the offsets of the fields read here, so no type
# information is needed. A paused job's fibre saved its registers on its own
# stack (Boost.Context's x86_64 fcontext: MXCSR/x87 word, r12, r13, r14,
# r15, rbx, rbp, return address, from the saved stack pointer up); `bt`
# unwinds from them through a Python unwinder, which never writes a
# register, so it works on core dumps too, and leaves the thread's own
# frames as they were.
#
# Loaded, the extension also lets a plain `bt` in a thread that is running a
# job go on past the job's first frame into the code that entered it
# (ASYNC_start_job and its callers).

import struct

import gdb
import gdb.unwinder

MAGIC = int.from_bytes(b"RUSTASYN", "little")
STATES = {0: "free", 1: "idle", 2: "running", 3: "paused"}
# fcontext's saved registers, as byte offsets from the saved stack pointer.
SAVED = (("r12", 0x08), ("r13", 0x10), ("r14", 0x18), ("r15", 0x20), ("rbx", 0x28), ("rbp", 0x30))
RETURN_ADDRESS = 0x38
FRAME_BYTES = 0x40
# make_fcontext with its two local labels (trampoline, finish) is shorter
# than this; `finish` is the return address of a fibre's first frame.
MAKE_FCONTEXT_SPAN = 0x80


def _word(address, size=8):
    data = gdb.selected_inferior().read_memory(address, size).tobytes()
    return int.from_bytes(data, "little")


class Layout:
    """rustasync_debug_info, read from the inferior."""

    def __init__(self):
        try:
            address = int(gdb.parse_and_eval("(unsigned long)&rustasync_debug_info"))
        except gdb.error:
            raise gdb.GdbError("rustasync: no rustasync_debug_info symbol; is librustasync loaded?")
        words = struct.unpack("<14Q", gdb.selected_inferior().read_memory(address, 14 * 8).tobytes())
        if words[0] != MAGIC:
            raise gdb.GdbError("rustasync: rustasync_debug_info has the wrong magic number")
        if words[1] != 1:
            raise gdb.GdbError("rustasync: layout version %d is not known to this extension" % words[1])
        self.base = _word(words[2])
        self.committed = _word(words[3])
        self.slot = words[4]
        (self.off_state, self.off_owner, self.off_wait_ctx, self.off_fibre,
         self.off_bottom, self.off_size, self.off_resumer) = words[5:12]
        self.off_tid = words[12]

    def jobs(self):
        """Every job that exists, in arena order."""
        inferior = gdb.selected_inferior()
        if self.base == 0:
            return []
        arena = inferior.read_memory(self.base, self.committed).tobytes()
        found = []
        for offset in range(0, self.committed, self.slot):
            state = arena[offset + self.off_state]
            if state == 0:
                continue
            field = lambda at: int.from_bytes(arena[offset + at:offset + at + 8], "little")
            found.append(Job(self, self.base + offset, state, field))
        return found

    def job(self, address):
        for job in self.jobs():
            if job.address == address:
                return job
        raise gdb.GdbError("rustasync: 0x%x is not a job of this process" % address)


class Job:
    def __init__(self, layout, address, state, field):
        self.address = address
        self.state = STATES.get(state, "state %d" % state)
        self.owner = field(layout.off_owner)
        self.wait_ctx = field(layout.off_wait_ctx)
        self.saved = field(layout.off_fibre)
        self.resumer = field(layout.off_resumer)
        self.bottom = field(layout.off_bottom)
        self.top = self.bottom + field(layout.off_size)
        self.tid = _word(self.owner + layout.off_tid, 4) if self.owner else 0

    def registers(self, saved):
        """The registers fcontext saved at `saved`, as the caller of the
        switch sees them."""
        regs = {name: _word(saved + at) for name, at in SAVED}
        regs["rip"] = _word(saved + RETURN_ADDRESS)
        regs["rsp"] = saved + FRAME_BYTES
        return regs


def _thread_by_tid(tid):
    for thread in gdb.selected_inferior().threads():
        if thread.ptid[1] == tid:
            return thread
    return None


def _stack_pointer_of(thread):
    """The stack pointer of another thread's newest frame; the selection is
    restored afterwards."""
    before = gdb.selected_thread()
    frame = gdb.selected_frame() if before is not None else None
    level = frame.level() if frame is not None else 0
    try:
        thread.switch()
        return int(gdb.newest_frame().read_register("rsp"))
    finally:
        if before is not None:
            before.switch()
            _select_level(level)


def _select_level(level):
    frame = gdb.newest_frame()
    while level > 0 and frame.older() is not None:
        frame = frame.older()
        level -= 1
    frame.select()


class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


def _values(pending, regs):
    return [(name, gdb.Value(value).cast(pending.read_register(name).type)) for name, value in regs.items()]


class FibreUnwinder(gdb.unwinder.Unwinder):
    """Two claims, both made from memory only:
    - while `rustasync bt` runs, the thread's innermost frame is made to
      return into the chosen job's saved registers;
    - a running job's first frame returns into the code that entered it
      (its `resumer` context), so `bt` goes on to ASYNC_start_job's caller."""

    def __init__(self):
        super().__init__("rustasync-fibre")
        self.graft = None  # (sp, pc) of the frame to graft on, registers
        self.fcontext = None

    def _make_fcontext(self):
        if self.fcontext is None:
            try:
                self.fcontext = int(gdb.parse_and_eval("(unsigned long)&make_fcontext"))
            except gdb.error:
                self.fcontext = 0
        return self.fcontext

    def __call__(self, pending):
        sp_value = pending.read_register("rsp")
        pc_value = pending.read_register("rip")
        sp = int(sp_value)
        pc = int(pc_value)
        if self.graft is not None:
            (graft_sp, graft_pc), regs = self.graft
            if sp == graft_sp and pc == graft_pc:
                # The job's stack may lie below this frame's, and gdb stops at
                # a caller inner to its callee (a corrupt stack, it assumes)
                # unless inline frames stand between them: this frame's id is
                # put just below the job's frames for as long as the graft
                # lasts.
                below = gdb.Value(regs["rsp"] - 16).cast(sp_value.type)
                info = pending.create_unwind_info(_FrameId(below, pc_value))
                for name, value in _values(pending, regs):
                    info.add_saved_register(name, value)
                return info
        start = self._make_fcontext()
        if start and start <= pc < start + MAKE_FCONTEXT_SPAN:
            return self._into_resumer(pending, sp, _FrameId(sp_value, pc_value))
        return None

    def _into_resumer(self, pending, sp, frame_id):
        try:
            layout = Layout()
            for job in layout.jobs():
                if job.state == "running" and job.resumer and (job.top & ~15) == sp:
                    info = pending.create_unwind_info(frame_id)
                    for name, value in _values(pending, job.registers(job.resumer)):
                        info.add_saved_register(name, value)
                    return info
        except (gdb.error, gdb.MemoryError, gdb.GdbError):
            pass
        return None


UNWINDER = FibreUnwinder()


def _format_frame(number, frame):
    name = frame.name() or "??"
    where = ""
    sal = frame.find_sal()
    if sal.symtab is not None and sal.line:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    else:
        solib = gdb.solib_name(frame.pc())
        if solib:
            where = " from %s" % solib
    if frame.type() == gdb.INLINE_FRAME:
        return "#%-3d %18s    %s ()%s" % (number, "", name, where)
    return "#%-3d 0x%016x in %s ()%s" % (number, frame.pc(), name, where)


def _print_job_frames(job, regs):
    """Unwinds from `regs`, printing the job's frames, and puts the
    thread's frames back as they were."""
    selected = gdb.selected_frame()
    level = selected.level()
    newest = gdb.newest_frame()
    anchor = (int(newest.read_register("rsp")), int(newest.pc()))
    UNWINDER.graft = (anchor, regs)
    gdb.invalidate_cached_frames()
    try:
        frame = gdb.newest_frame()
        # Inline frames of the innermost function share its registers: the
        # graft hangs under the outermost of them.
        while frame is not None and not (
            int(frame.read_register("rsp")) == regs["rsp"] and frame.pc() == regs["rip"]
        ):
            frame = frame.older()
        number = 0
        # A fibre's first frame returns into make_fcontext's `finish`, whose
        # own caller is nothing (address 0).
        while frame is not None and frame.pc() != 0 and number < 200:
            gdb.write(_format_frame(number, frame) + "\n")
            number += 1
            frame = frame.older()
        if number == 0:
            gdb.write("(no frames could be unwound from the saved registers)\n")
    finally:
        UNWINDER.graft = None
        gdb.invalidate_cached_frames()
        _select_level(level)


class RustasyncPrefix(gdb.Command):
    """rustasync's commands: rustasync jobs, rustasync bt JOB."""

    def __init__(self):
        super().__init__("rustasync", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class RustasyncJobs(gdb.Command):
    """List every job of the process: its handle, state (idle, running,
paused), owning thread (kernel id and gdb's number), wait context, and how
many bytes of its stack are in use (for a running job, at its thread's
current stack pointer)."""

    def __init__(self):
        super().__init__("rustasync jobs", gdb.COMMAND_STACK)

    def invoke(self, argument, from_tty):
        layout = Layout()
        jobs = layout.jobs()
        gdb.write("%-18s  %-7s  %-16s  %-18s  %s\n" % ("job", "state", "thread", "wait_ctx", "stack used"))
        for job in jobs:
            thread = _thread_by_tid(job.tid)
            owner = "LWP %d" % job.tid
            if thread is not None:
                owner += " (%d)" % thread.num
            depth = "?"
            if job.state in ("paused", "idle") and job.saved:
                depth = "%d of %d" % (job.top - job.saved, job.top - job.bottom)
            elif job.state == "running" and thread is not None:
                sp = _stack_pointer_of(thread)
                if job.bottom <= sp <= job.top:
                    depth = "%d of %d" % (job.top - sp, job.top - job.bottom)
            wait_ctx = "0x%x" % job.wait_ctx if job.wait_ctx else "-"
            gdb.write("0x%016x  %-7s  %-16s  %-18s  %s\n" % (job.address, job.state, owner, wait_ctx, depth))
        counts = {}
        for job in jobs:
            counts[job.state] = counts.get(job.state, 0) + 1
        summary = ", ".join("%d %s" % (counts.get(s, 0), s) for s in ("running", "paused", "idle"))
        gdb.write("%d jobs: %s\n" % (len(jobs), summary))


class RustasyncBacktrace(gdb.Command):
    """Print the backtrace of a paused or idle job: rustasync bt JOB, with
JOB a handle from `rustasync jobs`, or `rustasync bt all` for every paused
job. The frames are unwound from the registers the job's fibre saved; the
current thread's frames and the selected frame are left as they were. For a running job, use its thread
(`thread N`, then `bt`)."""

    def __init__(self):
        super().__init__("rustasync bt", gdb.COMMAND_STACK)

    def invoke(self, argument, from_tty):
        if not argument.strip():
            raise gdb.GdbError("usage: rustasync bt JOB (a handle from `rustasync jobs`)")
        if argument.strip() == "all":
            for job in Layout().jobs():
                if job.state == "paused":
                    self.backtrace(job)
            return
        self.backtrace(Layout().job(int(gdb.parse_and_eval(argument))))

    def backtrace(self, job):
        address = job.address
        if job.state == "running":
            thread = _thread_by_tid(job.tid)
            where = "thread %d" % thread.num if thread is not None else "LWP %d" % job.tid
            raise gdb.GdbError("rustasync: job 0x%x is running on %s: select it and use bt" % (address, where))
        if not job.saved:
            raise gdb.GdbError("rustasync: job 0x%x has no saved context" % address)
        gdb.write("job 0x%x (%s, LWP %d):\n" % (address, job.state, job.tid))
        _print_job_frames(job, job.registers(job.saved))


RustasyncPrefix()
RustasyncJobs()
RustasyncBacktrace()
gdb.unwinder.register_unwinder(None, UNWINDER, replace=True)
