package ptxsim

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// Module is a loaded PTX module whose kernels can be launched on a Memory.
type Module struct {
	entries map[string]*entry
	order   []string
}

// Load parses and checks PTX text (the subset tools/ptxgen emits).
func Load(src string) (*Module, error) {
	raws, externs, err := parseModule(src)
	if err != nil {
		return nil, err
	}
	m := &Module{entries: map[string]*entry{}}
	for _, r := range raws {
		e, err := compileEntry(r, externs)
		if err != nil {
			return nil, err
		}
		if _, dup := m.entries[e.name]; dup {
			return nil, fmt.Errorf("ptxsim: kernel %s defined twice", e.name)
		}
		m.entries[e.name] = e
		m.order = append(m.order, e.name)
	}
	return m, nil
}

// Kernels lists the module's entry points in source order.
func (m *Module) Kernels() []string { return append([]string(nil), m.order...) }

const (
	maxThreadsPerBlock = 1024
	// The hardware's grid and block limits (every sm_XY so far): a larger grid.y or grid.z
	// is refused by cuLaunchKernel, so the interpreter refuses it too rather than run what
	// a GPU never would.
	maxGridX  = 1<<31 - 1
	maxGridYZ = 65535
	maxBlockZ = 64
	// 48 KiB is the static limit; sm_80 lets a kernel opt into up to 163 KiB (A100) in all.
	maxStaticShared = 48 << 10
	maxTotalShared  = 163 << 10
	// A thread that runs this many instructions is taken to be stuck in a loop.
	maxStepsPerThread = 1 << 26
)

const (
	stRunning = iota
	stBarrier
	stCollective
	stExited
)

type cpCopy struct {
	epoch   int32 // block epoch at issue: the copy may land any time from then to the wait
	dst     uint32
	src     uint64
	size    int
	srcSize int
}

type thread struct {
	regs    []uint64
	init    []bool // per register: written yet?
	fault   string // first read of an unwritten register, reported after the instruction
	names   []string
	pc      int
	state   int
	special [numSpecials]uint64
	tid     [3]int
	steps   int
	linear  int         // thread index within the block
	uniSeen map[int]int // guarded bra.uni executions so far, by pc
	pending []cpCopy    // cp.async copies not yet committed to a group
	groups  [][]cpCopy  // committed groups, oldest first
}

type uniKey struct{ warp, pc int }

type launch struct {
	e            *entry
	mem          *Memory
	params       []uint64
	grid         [3]int
	block        [3]int
	ctaid        [3]int
	threads      []*thread
	uniform      map[uniKey][]bool // decisions of guarded bra.uni, per warp and instruction
	launchID     uint32
	blockSeq     uint32 // blocks run so far + 1: the scope of shared-memory race records
	blockLinear  int64
	epoch        int32 // barriers passed by the current block
	sharedShadow []shadow
	shared       []byte
	sharedInit   []bool
	stats        LaunchStats
}

// Launch runs kernel name over grid×block threads with sharedBytes of dynamic shared
// memory. Arguments must match the .param list: Ptr for .u64, int/int32/uint32 for 32-bit
// integers, float32 for .f32. Blocks run one after another; inside a block each thread
// runs alone until it reaches a barrier or a warp-collective instruction, where the
// threads involved meet and it is checked that all of them arrived.
func (m *Module) Launch(mem *Memory, name string, grid, block [3]int, sharedBytes int, args ...any) error {
	_, err := m.LaunchWithStats(mem, name, grid, block, sharedBytes, args...)
	return err
}

// LaunchWithStats is Launch that also returns what the launch did (see LaunchStats). After a
// failed launch the statistics cover the part that ran.
func (m *Module) LaunchWithStats(mem *Memory, name string, grid, block [3]int, sharedBytes int, args ...any) (LaunchStats, error) {
	l, err := m.prepare(mem, name, grid, block, sharedBytes, args)
	if err != nil {
		return LaunchStats{Kernel: name, Grid: grid, Block: block}, err
	}
	err = l.run()
	return l.stats, err
}

func (m *Module) prepare(mem *Memory, name string, grid, block [3]int, sharedBytes int, args []any) (*launch, error) {
	e, ok := m.entries[name]
	if !ok {
		return nil, fmt.Errorf("ptxsim: no kernel %q in module", name)
	}
	if len(args) != len(e.params) {
		return nil, fmt.Errorf("ptxsim: kernel %s takes %d arguments, got %d", name, len(e.params), len(args))
	}
	l := &launch{e: e, mem: mem, grid: grid, block: block, params: make([]uint64, len(args))}
	for i, a := range args {
		v, err := argBits(e.params[i].t, a)
		if err != nil {
			return nil, fmt.Errorf("ptxsim: kernel %s argument %d (%s): %v", name, i, e.params[i].name, err)
		}
		l.params[i] = v
	}
	nthreads := block[0] * block[1] * block[2]
	for i := 0; i < 3; i++ {
		if grid[i] < 1 || block[i] < 1 {
			return nil, fmt.Errorf("ptxsim: kernel %s: grid %v and block %v must be positive", name, grid, block)
		}
	}
	if grid[0] > maxGridX || grid[1] > maxGridYZ || grid[2] > maxGridYZ {
		return nil, fmt.Errorf("ptxsim: kernel %s: grid %v exceeds (%d, %d, %d)", name, grid, maxGridX, maxGridYZ, maxGridYZ)
	}
	if nthreads > maxThreadsPerBlock || block[0] > maxThreadsPerBlock || block[1] > maxThreadsPerBlock || block[2] > maxBlockZ {
		return nil, fmt.Errorf("ptxsim: kernel %s: block %v exceeds %d threads per block (or %d along z)", name, block, maxThreadsPerBlock, maxBlockZ)
	}
	if sharedBytes < 0 || (sharedBytes > 0 && !e.hasDynamic) {
		return nil, fmt.Errorf("ptxsim: kernel %s: %d bytes of dynamic shared memory requested but it declares none", name, sharedBytes)
	}
	if e.staticShared > maxStaticShared {
		return nil, fmt.Errorf("ptxsim: kernel %s: %d bytes of static shared memory exceeds %d", name, e.staticShared, maxStaticShared)
	}
	total := e.staticShared
	if e.hasDynamic {
		total = e.dynOffset + sharedBytes
	}
	if total > maxTotalShared {
		return nil, fmt.Errorf("ptxsim: kernel %s: %d bytes of shared memory exceeds %d", name, total, maxTotalShared)
	}
	l.shared = make([]byte, total)
	l.sharedInit = make([]bool, total)
	l.sharedShadow = make([]shadow, (total+3)/4)
	l.launchID = mem.nextLaunch()
	l.threads = make([]*thread, nthreads)
	for i := range l.threads {
		l.threads[i] = &thread{regs: make([]uint64, e.nregs), init: make([]bool, e.nregs), names: e.regNames}
	}
	l.stats = LaunchStats{Kernel: name, Grid: grid, Block: block, Threads: nthreads, SharedBytes: total}
	return l, nil
}

// run executes the launch's blocks one after another.
func (l *launch) run() error {
	grid := l.grid
	for z := 0; z < grid[2]; z++ {
		for y := 0; y < grid[1]; y++ {
			for x := 0; x < grid[0]; x++ {
				l.ctaid = [3]int{x, y, z}
				l.blockLinear = int64(x + grid[0]*(y+grid[1]*z))
				l.blockSeq++
				l.epoch = 0
				if err := l.runBlock(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func argBits(t ptype, a any) (uint64, error) {
	switch t {
	case tU64, tB64, tS64:
		if p, ok := a.(Ptr); ok {
			return uint64(p), nil
		}
		return 0, fmt.Errorf("want a Ptr, got %T", a)
	case tF32:
		if f, ok := a.(float32); ok {
			return uint64(math.Float32bits(f)), nil
		}
		return 0, fmt.Errorf("want float32, got %T", a)
	case tU32, tB32, tS32:
		var v int64
		switch x := a.(type) {
		case int:
			v = int64(x)
		case int32:
			v = int64(x)
		case uint32:
			v = int64(x)
		default:
			return 0, fmt.Errorf("want an integer, got %T", a)
		}
		if (t == tS32 && (v < math.MinInt32 || v > math.MaxInt32)) || (t != tS32 && (v < 0 || v > math.MaxUint32)) {
			return 0, fmt.Errorf("%d does not fit the parameter type", v)
		}
		return uint64(uint32(v)), nil
	}
	return 0, fmt.Errorf("unsupported parameter type")
}

func (l *launch) runBlock() error {
	clear(l.sharedInit)
	l.uniform = map[uniKey][]bool{}
	bx, by := l.block[0], l.block[1]
	for i, th := range l.threads {
		clear(th.regs)
		clear(th.init)
		th.fault = ""
		th.linear = i
		th.uniSeen = nil
		th.pc, th.state, th.steps = 0, stRunning, 0
		th.pending, th.groups = th.pending[:0], th.groups[:0]
		th.tid = [3]int{i % bx, (i / bx) % by, i / (bx * by)}
		sp := &th.special
		sp[sTidX], sp[sTidY], sp[sTidZ] = uint64(th.tid[0]), uint64(th.tid[1]), uint64(th.tid[2])
		sp[sNtidX], sp[sNtidY], sp[sNtidZ] = uint64(l.block[0]), uint64(l.block[1]), uint64(l.block[2])
		sp[sCtaidX], sp[sCtaidY], sp[sCtaidZ] = uint64(l.ctaid[0]), uint64(l.ctaid[1]), uint64(l.ctaid[2])
		sp[sNctaidX], sp[sNctaidY], sp[sNctaidZ] = uint64(l.grid[0]), uint64(l.grid[1]), uint64(l.grid[2])
		sp[sLaneid] = uint64(i % 32)
	}
	nwarps := (len(l.threads) + 31) / 32
	for {
		for w := 0; w < nwarps; w++ {
			if err := l.runWarp(w); err != nil {
				return err
			}
		}
		atBar, exited := 0, 0
		var first *thread
		for _, th := range l.threads {
			switch th.state {
			case stBarrier:
				atBar++
				if first == nil {
					first = th
				}
			case stExited:
				exited++
			}
		}
		if atBar == 0 {
			return nil
		}
		if exited > 0 {
			return l.errorf(first, "bar.sync reached by %d of %d threads; %d threads of the block exited without reaching it",
				atBar, len(l.threads), exited)
		}
		id := l.e.code[first.pc].ops[0].imm
		for _, th := range l.threads {
			in := &l.e.code[th.pc]
			if in.ops[0].kind != oImm || in.ops[0].imm != id {
				return l.errorf(th, "threads wait at different barriers (line %d and line %d)", l.e.code[first.pc].line, in.line)
			}
		}
		for _, th := range l.threads {
			th.pc++
			th.state = stRunning
		}
		l.epoch++
	}
}

func (l *launch) errorf(th *thread, format string, a ...any) error {
	where := ""
	if th.pc < len(l.e.code) {
		in := &l.e.code[th.pc]
		where = fmt.Sprintf(" line %d (%s)", in.line, in.text)
	}
	return fmt.Errorf("ptxsim: kernel %s block (%d,%d,%d) thread (%d,%d,%d)%s: %s", l.e.name,
		l.ctaid[0], l.ctaid[1], l.ctaid[2], th.tid[0], th.tid[1], th.tid[2], where, fmt.Sprintf(format, a...))
}

// runWarp advances the threads of warp w until each one waits at a barrier or has
// exited, executing warp-collective instructions whenever their participants meet.
func (l *launch) runWarp(w int) error {
	lo := w * 32
	hi := min(lo+32, len(l.threads))
	lanes := l.threads[lo:hi]
	for {
		for _, th := range lanes {
			if th.state == stRunning {
				if err := l.runThread(th); err != nil {
					return err
				}
			}
		}
		var leader *thread
		for _, th := range lanes {
			if th.state == stCollective {
				leader = th
				break
			}
		}
		if leader == nil {
			return nil
		}
		in := &l.e.code[leader.pc]
		// Membership: every lane named in the mask (all 32 for mma) must be at this
		// very instruction with the same mask; hardware behaviour is undefined otherwise.
		mask := uint32(0xffffffff)
		if in.op != opMma && in.op != opLdmatrix {
			mask = uint32(l.get(leader, &in.ops[len(in.ops)-1]))
		}
		for lane := 0; lane < 32; lane++ {
			if mask&(1<<lane) == 0 {
				continue
			}
			if lane >= len(lanes) {
				return l.errorf(leader, "membermask 0x%08x names lane %d, which does not exist in a block of %d threads",
					mask, lane, len(l.threads))
			}
			th := lanes[lane]
			switch {
			case th.state == stExited:
				return l.errorf(leader, "lane %d named in the warp-collective membermask has exited", lane)
			case th.state != stCollective || th.pc != leader.pc:
				return l.errorf(leader, "lane %d named in the membermask is not at this instruction (it is at line %d): divergent warp-collective",
					lane, l.e.code[th.pc].line)
			case in.op != opMma && in.op != opLdmatrix && uint32(l.get(th, &in.ops[len(in.ops)-1])) != mask:
				return l.errorf(th, "lanes disagree on the membermask")
			}
		}
		if err := l.collective(in, lanes, mask); err != nil {
			return err
		}
		for _, th := range lanes {
			if th.fault != "" {
				return l.errorf(th, "%s", th.fault)
			}
		}
		for lane, th := range lanes {
			if mask&(1<<lane) != 0 {
				th.pc++
				th.state = stRunning
			}
		}
	}
}

func (l *launch) get(th *thread, o *operand) uint64 {
	switch o.kind {
	case oReg:
		return th.r(o.reg)
	case oSpecial:
		return th.special[o.imm]
	default: // oImm, oSym
		return o.imm
	}
}

// r reads register i, noting a read of a register nothing has written.
func (th *thread) r(i int) uint64 {
	if !th.init[i] && th.fault == "" {
		th.fault = "register " + th.names[i] + " is read before anything wrote it"
	}
	return th.regs[i]
}

func (th *thread) w(i int, v uint64) {
	th.regs[i] = v
	th.init[i] = true
}

func f32(v uint64) float32   { return math.Float32frombits(uint32(v)) }
func f64(v uint64) float64   { return math.Float64frombits(v) }
func fbits(f float32) uint64 { return uint64(math.Float32bits(f)) }

func (l *launch) set(th *thread, o *operand, t ptype, v uint64) {
	switch t.bits() {
	case 32:
		v = uint64(uint32(v))
	case 16:
		v = uint64(uint16(v))
	}
	th.w(o.reg, v)
}

func signed(t ptype) bool { return t == tS32 || t == tS64 }

func sext(t ptype, v uint64) int64 {
	if t.bits() == 32 {
		return int64(int32(uint32(v)))
	}
	return int64(v)
}

func (l *launch) address(th *thread, o *operand) uint64 {
	var base uint64
	switch o.memKind {
	case oReg:
		base = th.r(o.reg)
	default:
		base = o.imm
	}
	return base + uint64(o.off)
}

func (l *launch) sharedRange(th *thread, addr uint64, size int) (int, error) {
	if addr+uint64(size) > uint64(len(l.shared)) || addr > uint64(len(l.shared)) {
		return 0, l.errorf(th, "shared access of %d bytes at 0x%x is out of bounds (%d bytes of shared memory)", size, addr, len(l.shared))
	}
	return int(addr), nil
}

func (l *launch) load(th *thread, sp space, addr uint64, size int, atomic bool) (uint64, error) {
	if addr%uint64(size) != 0 {
		return 0, l.errorf(th, "misaligned %d-byte load at 0x%x", size, addr)
	}
	var b []byte
	switch sp {
	case spGlobal:
		var err error
		if b, err = l.mem.read(addr, size); err != nil {
			return 0, l.errorf(th, "global load: %v", err)
		}
		if !atomic {
			a, off, _ := l.mem.find(addr, size)
			if err := l.trackGlobal(th, a, off, size, false, l.epoch); err != nil {
				return 0, err
			}
		}
	case spShared:
		off, err := l.sharedRange(th, addr, size)
		if err != nil {
			return 0, err
		}
		if !atomic {
			if err := l.trackShared(th, off, size, false, l.epoch); err != nil {
				return 0, err
			}
		}
		for j := off; j < off+size; j++ {
			if !l.sharedInit[j] {
				return 0, l.errorf(th, "shared load of %d bytes at 0x%x reads byte 0x%x that nothing wrote", size, addr, j)
			}
		}
		b = l.shared[off : off+size]
	default:
		return 0, l.errorf(th, "load from unsupported state space")
	}
	if size == 8 {
		return binary.LittleEndian.Uint64(b), nil
	}
	return uint64(binary.LittleEndian.Uint32(b)), nil
}

func (l *launch) store(th *thread, sp space, addr uint64, size int, v uint64, atomic bool) error {
	if addr%uint64(size) != 0 {
		return l.errorf(th, "misaligned %d-byte store at 0x%x", size, addr)
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	switch sp {
	case spGlobal:
		if err := l.mem.write(addr, b[:size]); err != nil {
			return l.errorf(th, "global store: %v", err)
		}
		if !atomic {
			a, off, _ := l.mem.find(addr, size)
			if err := l.trackGlobal(th, a, off, size, true, l.epoch); err != nil {
				return err
			}
		}
	case spShared:
		off, err := l.sharedRange(th, addr, size)
		if err != nil {
			return err
		}
		if !atomic {
			if err := l.trackShared(th, off, size, true, l.epoch); err != nil {
				return err
			}
		}
		copy(l.shared[off:], b[:size])
		for j := off; j < off+size; j++ {
			l.sharedInit[j] = true
		}
	default:
		return l.errorf(th, "store to unsupported state space")
	}
	return nil
}

// runThread executes th until it exits or reaches an instruction that needs other threads.
func (l *launch) runThread(th *thread) error {
	code := l.e.code
	for {
		if th.pc >= len(code) {
			th.state = stExited
			return nil
		}
		in := &code[th.pc]
		th.steps++
		if th.steps > maxStepsPerThread {
			return l.errorf(th, "more than %d instructions executed: infinite loop?", maxStepsPerThread)
		}
		skip := in.guard >= 0 && (th.r(in.guard) != 0) == in.guardNeg
		if in.uni && in.guard >= 0 {
			if err := l.checkUniform(th, !skip); err != nil {
				return err
			}
		}
		if skip {
			th.pc++
			continue
		}
		switch in.op {
		case opBar:
			th.state = stBarrier
			return nil
		case opShfl, opVote, opMma, opLdmatrix:
			th.state = stCollective
			return nil
		case opExit:
			th.state = stExited
			return nil
		case opBra:
			th.pc = int(in.ops[0].imm)
			continue
		}
		if err := l.exec(th, in); err != nil {
			return err
		}
		if th.fault != "" {
			return l.errorf(th, "%s", th.fault)
		}
		th.pc++
	}
}

// checkUniform verifies the promise of a guarded bra.uni: the n-th time each lane of a
// warp executes it, all lanes decide the same way. ptxas may compile a divergent bra.uni
// into code that sends the whole warp one way.
func (l *launch) checkUniform(th *thread, taken bool) error {
	if th.uniSeen == nil {
		th.uniSeen = map[int]int{}
	}
	n := th.uniSeen[th.pc]
	th.uniSeen[th.pc] = n + 1
	key := uniKey{th.linear / 32, th.pc}
	d := l.uniform[key]
	if n == len(d) {
		l.uniform[key] = append(d, taken)
		return nil
	}
	if d[n] != taken {
		return l.errorf(th, "divergent bra.uni: lanes of one warp decide differently")
	}
	return nil
}

func (l *launch) exec(th *thread, in *instr) error {
	ops := in.ops
	t := in.t
	switch in.op {
	case opMov:
		if ops[0].kind != oReg {
			return l.errorf(th, "mov destination is not a register")
		}
		l.set(th, &ops[0], t, l.get(th, &ops[1]))
	case opAdd, opSub, opMul, opDiv, opRem, opMin, opMax, opAnd, opOr, opXor, opShl, opShr:
		a, b := l.get(th, &ops[1]), l.get(th, &ops[2])
		v, err := l.binary(th, in, a, b)
		if err != nil {
			return err
		}
		dt := t
		if in.op == opMul && in.mod == "wide" {
			dt = tU64
		}
		l.set(th, &ops[0], dt, v)
	case opMad, opFma:
		a, b, c := l.get(th, &ops[1]), l.get(th, &ops[2]), l.get(th, &ops[3])
		switch {
		case t == tF64:
			l.set(th, &ops[0], t, math.Float64bits(math.FMA(f64(a), f64(b), f64(c))))
		case t == tF32:
			// The exact product of two float32 fits a float64, so one float64 FMA followed by
			// rounding to float32 matches a single-rounding fused multiply-add except in rare
			// double-rounding ties.
			l.set(th, &ops[0], t, fbits(float32(math.FMA(float64(f32(a)), float64(f32(b)), float64(f32(c))))))
		case in.mod == "wide":
			var p uint64
			if signed(t) {
				p = uint64(sext(t, a) * sext(t, b))
			} else {
				p = uint64(uint32(a)) * uint64(uint32(b))
			}
			l.set(th, &ops[0], tU64, p+c)
		default:
			p, _ := l.binary(th, &instr{op: opMul, t: t, mod: "lo"}, a, b)
			l.set(th, &ops[0], t, p+c)
		}
	case opNeg, opAbs, opNot, opEx2, opLg2, opSqrt, opRcp, opBrev:
		a := l.get(th, &ops[1])
		var v uint64
		if t == tF64 {
			x := f64(a)
			switch in.op {
			case opNeg:
				x = -x
			case opAbs:
				x = math.Abs(x)
			case opSqrt:
				x = math.Sqrt(x)
			case opRcp:
				x = 1 / x
			default:
				return l.errorf(th, "operation not defined for .f64")
			}
			l.set(th, &ops[0], t, math.Float64bits(x))
			return nil
		}
		switch in.op {
		case opNot:
			v = ^a
		case opBrev:
			if t.bits() == 32 {
				v = uint64(bits.Reverse32(uint32(a)))
			} else {
				v = bits.Reverse64(a)
			}
		case opNeg:
			if t == tF32 {
				v = fbits(-f32(a))
			} else {
				v = uint64(-sext(t, a))
			}
		case opAbs:
			if t == tF32 {
				v = fbits(float32(math.Abs(float64(f32(a)))))
			} else if x := sext(t, a); x < 0 {
				v = uint64(-x)
			} else {
				v = uint64(x)
			}
		case opEx2:
			// Hardware ex2.approx has about 2 ulp of error; the simulator is exact, so tests
			// keep tolerances that cover that difference.
			v = fbits(float32(math.Exp2(float64(f32(a)))))
		case opLg2:
			v = fbits(float32(math.Log2(float64(f32(a)))))
		case opSqrt:
			v = fbits(float32(math.Sqrt(float64(f32(a)))))
		case opRcp:
			v = fbits(1 / f32(a))
		}
		l.set(th, &ops[0], t, v)
	case opSetp:
		a, b := l.get(th, &ops[1]), l.get(th, &ops[2])
		var r bool
		if t == tF32 || t == tF64 {
			x, y := float64(f32(a)), float64(f32(b))
			if t == tF64 {
				x, y = f64(a), f64(b)
			}
			switch in.mod {
			case "lt":
				r = x < y
			case "le":
				r = x <= y
			case "gt":
				r = x > y
			case "ge":
				r = x >= y
			case "eq":
				r = x == y
			case "ne":
				r = x != y && x == x && y == y
			}
		} else if signed(t) {
			x, y := sext(t, a), sext(t, b)
			r = cmpInt(in.mod, x < y, x == y)
		} else {
			x, y := a, b
			if t.bits() == 32 {
				x, y = uint64(uint32(a)), uint64(uint32(b))
			}
			r = cmpInt(in.mod, x < y, x == y)
		}
		if r {
			th.w(ops[0].reg, 1)
		} else {
			th.w(ops[0].reg, 0)
		}
	case opSelp:
		if th.r(ops[3].reg) != 0 {
			l.set(th, &ops[0], t, l.get(th, &ops[1]))
		} else {
			l.set(th, &ops[0], t, l.get(th, &ops[2]))
		}
	case opCvt:
		if in.t == tF16x2 || in.t == tBF16x2 {
			// The first source goes to the upper half, the second to the lower (PTX ISA, cvt).
			hi, lo := f32(l.get(th, &ops[1])), f32(l.get(th, &ops[2]))
			l.set(th, &ops[0], tB32, uint64(half(in.t, hi))<<16|uint64(half(in.t, lo)))
			return nil
		}
		v, err := l.convert(th, in, l.get(th, &ops[1]))
		if err != nil {
			return err
		}
		l.set(th, &ops[0], t, v)
	case opLd:
		size := t.bits() / 8
		if in.sp == spParam {
			m := &ops[1]
			if m.memKind != oParam {
				return l.errorf(th, "ld.param needs a parameter name")
			}
			l.set(th, &ops[0], t, l.params[m.imm])
			return nil
		}
		addr := l.address(th, &ops[1])
		if addr%uint64(size*in.vec) != 0 {
			return l.errorf(th, "misaligned %d-byte vector load at 0x%x", size*in.vec, addr)
		}
		dst := []int{ops[0].reg}
		if ops[0].kind == oVec {
			dst = ops[0].vec
		}
		if len(dst) != in.vec {
			return l.errorf(th, "vector width %d but %d destination registers", in.vec, len(dst))
		}
		for i, r := range dst {
			v, err := l.load(th, in.sp, addr+uint64(i*size), size, false)
			if err != nil {
				return err
			}
			th.w(r, v)
		}
	case opSt:
		size := t.bits() / 8
		addr := l.address(th, &ops[0])
		if addr%uint64(size*in.vec) != 0 {
			return l.errorf(th, "misaligned %d-byte vector store at 0x%x", size*in.vec, addr)
		}
		var vals []uint64
		if ops[1].kind == oVec {
			for _, r := range ops[1].vec {
				vals = append(vals, th.r(r))
			}
		} else {
			vals = []uint64{l.get(th, &ops[1])}
		}
		if len(vals) != in.vec {
			return l.errorf(th, "vector width %d but %d source registers", in.vec, len(vals))
		}
		for i, v := range vals {
			if err := l.store(th, in.sp, addr+uint64(i*size), size, v, false); err != nil {
				return err
			}
		}
	case opAtom:
		return l.atomic(th, in)
	case opCpAsync:
		return l.cpAsync(th, in)
	case opCpCommit:
		th.groups = append(th.groups, th.pending)
		th.pending = nil
	case opCpWait, opCpWaitAll:
		keep := 0
		if in.op == opCpWait {
			keep = int(ops[0].imm)
		} else {
			th.groups = append(th.groups, th.pending)
			th.pending = nil
		}
		for len(th.groups) > keep {
			for _, c := range th.groups[0] {
				if err := l.completeCopy(th, c); err != nil {
					return err
				}
			}
			th.groups = th.groups[1:]
		}
	default:
		return l.errorf(th, "instruction not executable here")
	}
	return nil
}

func cmpInt(mod string, lt, eq bool) bool {
	switch mod {
	case "lt":
		return lt
	case "le":
		return lt || eq
	case "gt":
		return !lt && !eq
	case "ge":
		return !lt
	case "eq":
		return eq
	case "ne":
		return !eq
	}
	return false
}

func (l *launch) binary(th *thread, in *instr, a, b uint64) (uint64, error) {
	t := in.t
	if t == tF64 {
		x, y := f64(a), f64(b)
		var r float64
		switch in.op {
		case opAdd:
			r = x + y
		case opSub:
			r = x - y
		case opMul:
			r = x * y
		case opDiv:
			r = x / y
		case opMin, opMax:
			switch {
			case x != x:
				r = y
			case y != y:
				r = x
			case in.op == opMin:
				r = math.Min(x, y)
			default:
				r = math.Max(x, y)
			}
		default:
			return 0, l.errorf(th, "operation not defined for .f64")
		}
		return math.Float64bits(r), nil
	}
	if t == tF32 {
		x, y := f32(a), f32(b)
		var r float32
		switch in.op {
		case opAdd:
			r = x + y
		case opSub:
			r = x - y
		case opMul:
			r = x * y
		case opDiv:
			r = x / y
		case opMin:
			r = float32(math.Min(float64(x), float64(y)))
			if x != x {
				r = y
			} else if y != y {
				r = x
			}
		case opMax:
			r = float32(math.Max(float64(x), float64(y)))
			if x != x {
				r = y
			} else if y != y {
				r = x
			}
		default:
			return 0, l.errorf(th, "operation not defined for .f32")
		}
		return fbits(r), nil
	}
	w := t.bits()
	switch in.op {
	case opAdd:
		return a + b, nil
	case opSub:
		return a - b, nil
	case opMul:
		switch in.mod {
		case "wide":
			if signed(t) {
				return uint64(sext(t, a) * sext(t, b)), nil
			}
			return uint64(uint32(a)) * uint64(uint32(b)), nil
		case "hi":
			if w == 32 {
				if signed(t) {
					return uint64((sext(t, a) * sext(t, b)) >> 32), nil
				}
				return (uint64(uint32(a)) * uint64(uint32(b))) >> 32, nil
			}
			hi, _ := bits.Mul64(a, b)
			return hi, nil
		}
		return a * b, nil
	case opDiv, opRem:
		if (w == 32 && uint32(b) == 0) || b == 0 {
			return 0, l.errorf(th, "integer division by zero")
		}
		if signed(t) {
			x, y := sext(t, a), sext(t, b)
			if in.op == opDiv {
				return uint64(x / y), nil
			}
			return uint64(x % y), nil
		}
		if w == 32 {
			a, b = uint64(uint32(a)), uint64(uint32(b))
		}
		if in.op == opDiv {
			return a / b, nil
		}
		return a % b, nil
	case opMin, opMax:
		var less bool
		if signed(t) {
			less = sext(t, a) < sext(t, b)
		} else if w == 32 {
			less = uint32(a) < uint32(b)
		} else {
			less = a < b
		}
		if (in.op == opMin) == less {
			return a, nil
		}
		return b, nil
	case opAnd:
		return a & b, nil
	case opOr:
		return a | b, nil
	case opXor:
		return a ^ b, nil
	case opShl:
		if uint32(b) >= uint32(w) {
			return 0, nil
		}
		return a << uint32(b), nil
	case opShr:
		n := uint32(b)
		if signed(t) {
			if n >= uint32(w) {
				n = uint32(w) - 1
			}
			return uint64(sext(t, a) >> n), nil
		}
		if n >= uint32(w) {
			return 0, nil
		}
		if w == 32 {
			return uint64(uint32(a) >> n), nil
		}
		return a >> n, nil
	}
	return 0, l.errorf(th, "unsupported operation")
}

// tf32Round rounds float32 bits to TF32 (10 explicit mantissa bits), to nearest with ties
// away from zero, as cvt.rna.tf32.f32 does; the result keeps the 32-bit container.
func tf32Round(u uint32) uint32 {
	if u&0x7f800000 == 0x7f800000 { // Inf and NaN pass through
		return u
	}
	return (u + 0x1000) &^ 0x1fff
}

func (l *launch) convert(th *thread, in *instr, a uint64) (uint64, error) {
	dst, src := in.t, in.t2
	if dst == tF64 || src == tF64 {
		return l.convertF64(th, in, a)
	}
	switch {
	case dst == tTF32 && src == tF32:
		return uint64(tf32Round(uint32(a))), nil
	case dst == tF32 && src == tF32:
		x := float64(f32(a))
		switch in.mod {
		case "rni":
			x = math.RoundToEven(x)
		case "rzi":
			x = math.Trunc(x)
		case "rmi":
			x = math.Floor(x)
		case "rpi":
			x = math.Ceil(x)
		}
		return fbits(float32(x)), nil
	case dst == tF32:
		if signed(src) {
			return fbits(float32(sext(src, a))), nil
		}
		if src.bits() == 32 {
			return fbits(float32(uint32(a))), nil
		}
		return fbits(float32(a)), nil
	case src == tF32:
		x := float64(f32(a))
		switch in.mod {
		case "rni":
			x = math.RoundToEven(x)
		case "rmi":
			x = math.Floor(x)
		case "rpi":
			x = math.Ceil(x)
		default:
			x = math.Trunc(x)
		}
		if x != x {
			return 0, nil
		}
		switch dst {
		case tS32:
			return uint64(uint32(int32(math.Max(math.MinInt32, math.Min(math.MaxInt32, x))))), nil
		case tU32:
			return uint64(uint32(math.Max(0, math.Min(math.MaxUint32, x)))), nil
		}
	default:
		if signed(src) {
			return uint64(sext(src, a)), nil
		}
		if src.bits() == 32 {
			return uint64(uint32(a)), nil
		}
		return a, nil
	}
	return 0, l.errorf(th, "unsupported conversion")
}

func (l *launch) atomic(th *thread, in *instr) error {
	ops := in.ops
	m := &ops[len(ops)-2]
	addr := l.address(th, m)
	size := in.t.bits() / 8
	old, err := l.load(th, in.sp, addr, size, true)
	if err != nil {
		return err
	}
	if in.sp == spGlobal {
		a, off, _ := l.mem.find(addr, size)
		l.countAtomic(a, off, size)
	}
	b := l.get(th, &ops[len(ops)-1])
	var v uint64
	switch {
	case in.mod == "exch":
		v = b
	case in.mod == "add" && in.t == tF32:
		v = fbits(f32(old) + f32(b))
	case in.mod == "add":
		v = old + b
	default:
		return l.errorf(th, "unsupported atomic operation %q", in.mod)
	}
	if err := l.store(th, in.sp, addr, size, v, true); err != nil {
		return err
	}
	if len(ops) == 3 {
		l.set(th, &ops[0], in.t, old)
	}
	return nil
}

// cpAsync checks the addresses at issue time but copies only when a wait completes the
// group, so a kernel that reads its shared tile before waiting sees stale or unwritten data.
func (l *launch) cpAsync(th *thread, in *instr) error {
	ops := in.ops
	dst := uint32(l.address(th, &ops[0]))
	src := l.address(th, &ops[1])
	size := int(l.get(th, &ops[2]))
	srcSize := size
	if len(ops) == 4 {
		srcSize = int(l.get(th, &ops[3]))
	}
	if size != 4 && size != 8 && size != 16 {
		return l.errorf(th, "cp.async size %d (must be 4, 8 or 16)", size)
	}
	if srcSize < 0 || srcSize > size {
		return l.errorf(th, "cp.async src-size %d out of range", srcSize)
	}
	if dst%uint32(size) != 0 || src%uint64(size) != 0 {
		return l.errorf(th, "misaligned cp.async of %d bytes (shared 0x%x, global 0x%x)", size, dst, src)
	}
	if _, err := l.sharedRange(th, uint64(dst), size); err != nil {
		return err
	}
	if srcSize > 0 {
		if _, _, err := l.mem.find(src, srcSize); err != nil {
			return l.errorf(th, "cp.async source: %v", err)
		}
	}
	th.pending = append(th.pending, cpCopy{epoch: l.epoch, dst: dst, src: src, size: size, srcSize: srcSize})
	return nil
}

func (l *launch) completeCopy(th *thread, c cpCopy) error {
	buf := make([]byte, c.size) // bytes past src-size are zero-filled
	if c.srcSize > 0 {
		b, err := l.mem.read(c.src, c.srcSize)
		if err != nil {
			return l.errorf(th, "cp.async source: %v", err)
		}
		copy(buf, b)
		a, off, _ := l.mem.find(c.src, c.srcSize)
		if err := l.trackGlobal(th, a, off, c.srcSize, false, c.epoch); err != nil {
			return err
		}
	}
	if err := l.trackShared(th, int(c.dst), c.size, true, c.epoch); err != nil {
		return err
	}
	copy(l.shared[c.dst:], buf)
	for j := int(c.dst); j < int(c.dst)+c.size; j++ {
		l.sharedInit[j] = true
	}
	return nil
}

// collective executes a warp-level instruction for the lanes in mask, all of which are
// known to be at it.
func (l *launch) collective(in *instr, lanes []*thread, mask uint32) error {
	ops := in.ops
	switch in.op {
	case opShfl:
		var src [32]uint64
		for lane := range lanes {
			if mask&(1<<lane) != 0 {
				src[lane] = l.get(lanes[lane], &ops[1])
			}
		}
		for lane, th := range lanes {
			if mask&(1<<lane) == 0 {
				continue
			}
			b := uint32(l.get(th, &ops[2])) & 31
			c := uint32(l.get(th, &ops[3]))
			segmask := (c >> 8) & 31
			maxLane := (uint32(lane) & segmask) | (c & 31 &^ segmask)
			minLane := uint32(lane) & segmask
			var j uint32
			var ok bool
			switch in.mod {
			case "up":
				j = uint32(lane) - b
				ok = int32(j) >= int32(maxLane)
			case "down":
				j = uint32(lane) + b
				ok = j <= maxLane
			case "bfly":
				j = uint32(lane) ^ b
				ok = j <= maxLane
			case "idx":
				j = minLane | (b &^ segmask)
				ok = j <= maxLane
			default:
				return l.errorf(th, "unknown shfl mode %q", in.mod)
			}
			if !ok {
				j = uint32(lane)
			}
			if mask&(1<<j) == 0 {
				return l.errorf(th, "shfl reads lane %d, which is not in the membermask", j)
			}
			l.set(th, &ops[0], tB32, src[j])
			if ops[0].alt >= 0 {
				if ok {
					th.w(ops[0].alt, 1)
				} else {
					th.w(ops[0].alt, 0)
				}
			}
		}
	case opVote:
		var ballot uint32
		for lane, th := range lanes {
			if mask&(1<<lane) != 0 {
				p := th.r(ops[1].reg) != 0
				if ops[1].neg {
					p = !p
				}
				if p {
					ballot |= 1 << lane
				}
			}
		}
		for lane, th := range lanes {
			if mask&(1<<lane) == 0 {
				continue
			}
			switch in.mod {
			case "ballot":
				l.set(th, &ops[0], tB32, uint64(ballot))
			case "all":
				th.w(ops[0].reg, b2u(ballot == mask))
			case "any":
				th.w(ops[0].reg, b2u(ballot != 0))
			default:
				return l.errorf(th, "unknown vote mode %q", in.mod)
			}
		}
	case opMma:
		if in.t2 == tTF32 {
			return l.mma(in, lanes)
		}
		return l.mma16(in, lanes)
	case opLdmatrix:
		return l.ldmatrix(in, lanes)
	}
	return nil
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// mma executes mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 with the fragment
// layouts of the PTX ISA ("Matrix Fragments for mma.m16n8k8", .tf32):
//
//	groupID = laneid>>2, tig = laneid%4
//	A (16×8): a0 (g, tig), a1 (g+8, tig), a2 (g, tig+4), a3 (g+8, tig+4)
//	B (8×8):  b0 (tig, g), b1 (tig+4, g)
//	C, D (16×8): c0 (g, 2·tig), c1 (g, 2·tig+1), c2 (g+8, 2·tig), c3 (g+8, 2·tig+1)
//
// Inputs are used as TF32 (the low 13 mantissa bits are ignored, as the tensor cores do);
// products are exact and summed in float64 before one rounding to float32.
func (l *launch) mma(in *instr, lanes []*thread) error {
	var a [16][8]float64
	var b [8][8]float64
	var c [16][8]float64
	tf := func(v uint64) float64 { return float64(math.Float32frombits(uint32(v) &^ 0x1fff)) }
	ops := in.ops
	if len(ops[0].vec) != 4 || len(ops[1].vec) != 4 || len(ops[2].vec) != 2 || len(ops[3].vec) != 4 {
		return l.errorf(lanes[0], "mma m16n8k8 tf32 needs {4}, {4}, {2}, {4} registers")
	}
	for lane, th := range lanes {
		g, t := lane>>2, lane%4
		av := ops[1].vec
		a[g][t], a[g+8][t], a[g][t+4], a[g+8][t+4] = tf(th.r(av[0])), tf(th.r(av[1])), tf(th.r(av[2])), tf(th.r(av[3]))
		bv := ops[2].vec
		b[t][g], b[t+4][g] = tf(th.r(bv[0])), tf(th.r(bv[1]))
		cv := ops[3].vec
		c[g][2*t] = float64(f32(th.r(cv[0])))
		c[g][2*t+1] = float64(f32(th.r(cv[1])))
		c[g+8][2*t] = float64(f32(th.r(cv[2])))
		c[g+8][2*t+1] = float64(f32(th.r(cv[3])))
	}
	var d [16][8]float32
	for i := 0; i < 16; i++ {
		for j := 0; j < 8; j++ {
			s := c[i][j]
			for k := 0; k < 8; k++ {
				s += a[i][k] * b[k][j]
			}
			d[i][j] = float32(s)
		}
	}
	for lane, th := range lanes {
		g, t := lane>>2, lane%4
		dv := ops[0].vec
		th.w(dv[0], fbits(d[g][2*t]))
		th.w(dv[1], fbits(d[g][2*t+1]))
		th.w(dv[2], fbits(d[g+8][2*t]))
		th.w(dv[3], fbits(d[g+8][2*t+1]))
	}
	return nil
}

// roundMode applies a cvt integer-rounding modifier (rni, rzi, rmi, rpi; for a float to
// integer conversion without one, truncation).
func roundMode(mod string, x float64, toInt bool) float64 {
	switch mod {
	case "rni":
		return math.RoundToEven(x)
	case "rzi":
		return math.Trunc(x)
	case "rmi":
		return math.Floor(x)
	case "rpi":
		return math.Ceil(x)
	}
	if toInt {
		return math.Trunc(x)
	}
	return x
}

// convertF64 handles the conversions to and from .f64: between the float types (.rn
// rounding to float32), from the integer types, and to s32/u32 with saturation (NaN
// gives 0), as the PTX ISA defines them.
func (l *launch) convertF64(th *thread, in *instr, a uint64) (uint64, error) {
	dst, src := in.t, in.t2
	var x float64
	switch {
	case src == tF64:
		x = f64(a)
	case src == tF32:
		x = float64(f32(a))
	case signed(src):
		x = float64(sext(src, a))
	case src.bits() == 32:
		x = float64(uint32(a))
	default:
		x = float64(a)
	}
	switch dst {
	case tF64:
		return math.Float64bits(roundMode(in.mod, x, false)), nil
	case tF32:
		return fbits(float32(x)), nil
	}
	x = roundMode(in.mod, x, true)
	if x != x {
		return 0, nil
	}
	switch dst {
	case tS32:
		return uint64(uint32(int32(math.Max(math.MinInt32, math.Min(math.MaxInt32, x))))), nil
	case tU32:
		return uint64(uint32(math.Max(0, math.Min(math.MaxUint32, x)))), nil
	case tS64:
		return uint64(int64(math.Max(math.MinInt64, math.Min(math.MaxInt64, x)))), nil
	}
	return 0, l.errorf(th, "unsupported conversion")
}
