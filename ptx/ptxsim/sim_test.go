package ptxsim

import (
	"strings"
	"testing"
)

const header = ".version 7.8\n.target sm_80\n.address_size 64\n"

// entry wraps a body into a kernel taking (.u64 out, .u64 in, .u32 n).
func entrySrc(name, body string) string {
	return header + ".visible .entry " + name + "(\n.param .u64 out,\n.param .u64 in,\n.param .u32 n\n)\n{\n" +
		".reg .pred %p<4>;\n.reg .b32 %r<16>;\n.reg .f32 %f<8>;\n.reg .b64 %rd<8>;\n" +
		".shared .align 16 .b8 sm[256];\n" + body + "\n}\n"
}

// prologue: %r1 = tid.x, %rd1 = out, %rd2 = in, %rd3 = &out[tid], %rd4 = &in[tid].
const prologue = `
	ld.param.u64 %rd1, [out];
	ld.param.u64 %rd2, [in];
	mov.u32 %r1, %tid.x;
	mul.wide.u32 %rd5, %r1, 4;
	add.u64 %rd3, %rd1, %rd5;
	add.u64 %rd4, %rd2, %rd5;
`

func run(t *testing.T, body string, threads int, in []float32) ([]float32, error) {
	t.Helper()
	m, err := Load(entrySrc("k", prologue+body))
	if err != nil {
		t.Fatal(err)
	}
	mem := NewMemory()
	pin, err := mem.AllocF32(in)
	if err != nil {
		t.Fatal(err)
	}
	pout, err := mem.Alloc(4 * threads)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{threads, 1, 1}, 0, pout, pin, len(in)); err != nil {
		return nil, err
	}
	return mem.ReadF32(pout, threads)
}

func iota32(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(i + 1)
	}
	return v
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

func TestOutOfBoundsGlobalLoadIsReported(t *testing.T) {
	_, err := run(t, `ld.global.f32 %f1, [%rd4+4]; st.global.f32 [%rd3], %f1; ret;`, 32, iota32(32))
	wantErr(t, err, "kernel k", "thread (31,0,0)", "out of bounds", "line")
}

func TestUnwrittenMemoryIsReported(t *testing.T) {
	// The kernel writes only even threads' outputs; reading the result back must fail.
	_, err := run(t, `and.b32 %r2, %r1, 1; setp.ne.u32 %p1, %r2, 0; @%p1 ret;
		ld.global.f32 %f1, [%rd4]; st.global.f32 [%rd3], %f1; ret;`, 4, iota32(4))
	wantErr(t, err, "nothing wrote")
	// Reading shared memory nobody stored to is reported inside the kernel.
	_, err = run(t, `mov.u32 %r2, sm; ld.shared.f32 %f1, [%r2+8]; st.global.f32 [%rd3], %f1; ret;`, 1, iota32(1))
	wantErr(t, err, "thread (0,0,0)", "nothing wrote")
}

func TestBarrierNotReachedByAllIsReported(t *testing.T) {
	_, err := run(t, `setp.eq.u32 %p1, %r1, 5; @%p1 ret; bar.sync 0;
		ld.global.f32 %f1, [%rd4]; st.global.f32 [%rd3], %f1; ret;`, 64, iota32(64))
	wantErr(t, err, "bar.sync reached by 63 of 64 threads")
}

func TestDivergentShuffleIsReported(t *testing.T) {
	_, err := run(t, `ld.global.f32 %f1, [%rd4]; setp.lt.u32 %p1, %r1, 16; @%p1 bra $skip;
		shfl.sync.bfly.b32 %f1, %f1, 1, 31, 0xffffffff;
		$skip: st.global.f32 [%rd3], %f1; ret;`, 32, iota32(32))
	wantErr(t, err, "lane 0 named in the warp-collective membermask")
}

func TestMisalignedVectorLoadIsReported(t *testing.T) {
	_, err := run(t, `ld.global.v4.f32 {%f1, %f2, %f3, %f4}, [%rd2+4]; st.global.f32 [%rd3], %f1; ret;`, 1, iota32(8))
	wantErr(t, err, "misaligned")
}

func TestShuffleModesAndVote(t *testing.T) {
	in := iota32(32)
	cases := []struct {
		op   string
		want func(lane int) float32
	}{
		{"shfl.sync.bfly.b32 %f2, %f1, 5, 31, 0xffffffff;", func(l int) float32 { return in[l^5] }},
		{"shfl.sync.down.b32 %f2, %f1, 3, 31, 0xffffffff;", func(l int) float32 {
			if l+3 > 31 {
				return in[l]
			}
			return in[l+3]
		}},
		{"shfl.sync.up.b32 %f2, %f1, 2, 0, 0xffffffff;", func(l int) float32 {
			if l < 2 {
				return in[l]
			}
			return in[l-2]
		}},
		{"shfl.sync.idx.b32 %f2, %f1, 7, 31, 0xffffffff;", func(int) float32 { return in[7] }},
		// width 8 segments (c = ((32-8)<<8) | 31): idx 2 reads lane 2 of each segment
		{"shfl.sync.idx.b32 %f2, %f1, 2, 6175, 0xffffffff;", func(l int) float32 { return in[l&^7|2] }},
	}
	for _, c := range cases {
		got, err := run(t, "ld.global.f32 %f1, [%rd4];\n"+c.op+"\nst.global.f32 [%rd3], %f2; ret;", 32, in)
		if err != nil {
			t.Fatalf("%s: %v", c.op, err)
		}
		for l := range got {
			if got[l] != c.want(l) {
				t.Errorf("%s lane %d: %g, want %g", c.op, l, got[l], c.want(l))
			}
		}
	}
	// ballot of (lane is odd) is 0xaaaaaaaa; all is false, any is true.
	got, err := run(t, `and.b32 %r2, %r1, 1; setp.ne.u32 %p1, %r2, 0;
		vote.sync.ballot.b32 %r3, %p1, 0xffffffff;
		vote.sync.all.pred %p2, %p1, 0xffffffff;
		vote.sync.any.pred %p3, %p1, 0xffffffff;
		selp.u32 %r4, 2, 0, %p2; selp.u32 %r5, 1, 0, %p3; add.u32 %r4, %r4, %r5;
		xor.b32 %r3, %r3, 0xaaaaaaaa; add.u32 %r4, %r4, %r3;
		cvt.rn.f32.u32 %f1, %r4; st.global.f32 [%rd3], %f1; ret;`, 32, iota32(1))
	if err != nil {
		t.Fatal(err)
	}
	for l, v := range got {
		if v != 1 {
			t.Errorf("vote lane %d: %g, want 1 (ballot 0xaaaaaaaa, all false, any true)", l, v)
		}
	}
}

func TestCpAsyncDataArrivesOnlyAfterWait(t *testing.T) {
	// Reading the destination before cp.async.wait_group sees nothing written.
	_, err := run(t, `mov.u32 %r2, sm; cp.async.ca.shared.global [%r2], [%rd2], 4;
		cp.async.commit_group; ld.shared.f32 %f1, [%r2]; st.global.f32 [%rd3], %f1; ret;`, 1, iota32(1))
	wantErr(t, err, "nothing wrote")
	// After the wait the data is there; src-size 0 zero-fills.
	got, err := run(t, `mov.u32 %r2, sm; cp.async.ca.shared.global [%r2], [%rd2+4], 4;
		cp.async.ca.shared.global [%r2+4], [%rd2], 4, 0; cp.async.commit_group; cp.async.wait_group 0;
		ld.shared.f32 %f1, [%r2]; ld.shared.f32 %f2, [%r2+4]; add.f32 %f1, %f1, %f2;
		st.global.f32 [%rd3], %f1; ret;`, 1, iota32(2))
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != 2 {
		t.Errorf("cp.async result %g, want 2", got[0])
	}
}

func TestSharedMemoryAndBarrierExchange(t *testing.T) {
	// Each thread publishes its value, then reads its neighbour's after the barrier.
	got, err := run(t, `ld.global.f32 %f1, [%rd4]; mov.u32 %r2, sm; shl.b32 %r3, %r1, 2; add.u32 %r3, %r3, %r2;
		st.shared.f32 [%r3], %f1; bar.sync 0;
		add.u32 %r4, %r1, 1; and.b32 %r4, %r4, 63; shl.b32 %r4, %r4, 2; add.u32 %r4, %r4, %r2;
		ld.shared.f32 %f2, [%r4]; st.global.f32 [%rd3], %f2; ret;`, 64, iota32(64))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got {
		if v != float32((i+1)%64+1) {
			t.Errorf("thread %d read %g, want %d", i, v, (i+1)%64+1)
		}
	}
}

func TestLaunchChecksArguments(t *testing.T) {
	m, err := Load(entrySrc("k", "ret;"))
	if err != nil {
		t.Fatal(err)
	}
	mem := NewMemory()
	err = m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{1, 1, 1}, 0, Ptr(0), 3, 3)
	wantErr(t, err, "argument 1", "want a Ptr")
	err = m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{2048, 1, 1}, 0, Ptr(0), Ptr(0), 3)
	wantErr(t, err, "threads per block")
	err = m.Launch(mem, "k", [3]int{1, 65536, 1}, [3]int{1, 1, 1}, 0, Ptr(0), Ptr(0), 3)
	wantErr(t, err, "grid [1 65536 1] exceeds")
	err = m.Launch(mem, "k", [3]int{1, 1, 65536}, [3]int{1, 1, 1}, 0, Ptr(0), Ptr(0), 3)
	wantErr(t, err, "grid [1 1 65536] exceeds")
	err = m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{1, 1, 65}, 0, Ptr(0), Ptr(0), 3)
	wantErr(t, err, "along z")
	err = m.Launch(mem, "nope", [3]int{1, 1, 1}, [3]int{1, 1, 1}, 0)
	wantErr(t, err, "no kernel")
}

func TestTF32Rounding(t *testing.T) {
	cases := map[uint32]uint32{
		0x3f800000: 0x3f800000, // 1.0 is exact
		0x3f801000: 0x3f802000, // tie rounds away from zero
		0x3f800fff: 0x3f800000, // below half rounds down
		0xbf801000: 0xbf802000, // negative tie, away from zero
		0x7f800000: 0x7f800000, // Inf kept
	}
	for in, want := range cases {
		if got := tf32Round(in); got != want {
			t.Errorf("tf32Round(%#08x) = %#08x, want %#08x", in, got, want)
		}
	}
}

func TestDivergentUniformBranchIsReported(t *testing.T) {
	_, err := run(t, `ld.global.f32 %f1, [%rd4]; setp.lt.u32 %p1, %r1, 3; @%p1 bra.uni $skip;
		add.f32 %f1, %f1, %f1;
		$skip: st.global.f32 [%rd3], %f1; ret;`, 32, iota32(32))
	wantErr(t, err, "divergent bra.uni")
	// A uniform condition is fine.
	if _, err := run(t, `ld.global.f32 %f1, [%rd4]; setp.lt.u32 %p1, %r1, 64; @%p1 bra.uni $skip;
		add.f32 %f1, %f1, %f1;
		$skip: st.global.f32 [%rd3], %f1; ret;`, 32, iota32(32)); err != nil {
		t.Fatal(err)
	}
}

func TestUnwrittenRegisterIsReported(t *testing.T) {
	_, err := run(t, `add.f32 %f2, %f1, %f1; st.global.f32 [%rd3], %f2; ret;`, 1, iota32(1))
	wantErr(t, err, "register %f1 is read before anything wrote it", "line")
}

func TestSharedMemoryRaceIsReported(t *testing.T) {
	// Thread i publishes its value and reads that of thread i&^1 without a barrier.
	_, err := run(t, `ld.global.f32 %f1, [%rd4]; mov.u32 %r2, sm; shl.b32 %r3, %r1, 2; add.u32 %r3, %r3, %r2;
		st.shared.f32 [%r3], %f1; and.b32 %r4, %r1, 0xfffffffe; shl.b32 %r4, %r4, 2; add.u32 %r4, %r4, %r2;
		ld.shared.f32 %f2, [%r4]; st.global.f32 [%rd3], %f2; ret;`, 8, iota32(8))
	wantErr(t, err, "data race", "read of shared 0x0", "thread 0 of block 0")
}

func TestGlobalRaceBetweenBlocksIsReported(t *testing.T) {
	m, err := Load(entrySrc("k", prologue+`ld.global.f32 %f1, [%rd4]; st.global.f32 [%rd1], %f1; ret;`))
	if err != nil {
		t.Fatal(err)
	}
	mem := NewMemory()
	in, _ := mem.AllocF32(iota32(1))
	out, _ := mem.Alloc(4)
	err = m.Launch(mem, "k", [3]int{2, 1, 1}, [3]int{1, 1, 1}, 0, out, in, 1)
	wantErr(t, err, "data race", "write of global", "block 0")
	// The same stores in two launches are ordered by the launch boundary.
	for i := 0; i < 2; i++ {
		if err := m.Launch(mem, "k", [3]int{1, 1, 1}, [3]int{1, 1, 1}, 0, out, in, 1); err != nil {
			t.Fatal(err)
		}
	}
}
