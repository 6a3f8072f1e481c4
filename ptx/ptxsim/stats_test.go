package ptxsim

import "testing"

// Each thread i of 2 blocks × 7 threads reads in[i] and in[(i+1) mod n] (every word twice,
// by different threads), writes out[i] and, on 3 words, adds atomically to in[0].
func TestLaunchStatsCountDistinctAndRequestedBytes(t *testing.T) {
	const n = 14
	body := `
	ld.param.u64 %rd1, [out];
	ld.param.u64 %rd2, [in];
	ld.param.u32 %r9, [n];
	mov.u32 %r1, %tid.x;
	mov.u32 %r2, %ctaid.x;
	mov.u32 %r3, %ntid.x;
	mad.lo.u32 %r1, %r2, %r3, %r1;
	add.u32 %r4, %r1, 1;
	rem.u32 %r4, %r4, %r9;
	mul.wide.u32 %rd5, %r1, 4;
	add.u64 %rd3, %rd1, %rd5;
	add.u64 %rd4, %rd2, %rd5;
	mul.wide.u32 %rd6, %r4, 4;
	add.u64 %rd6, %rd2, %rd6;
	ld.global.f32 %f1, [%rd4];
	ld.global.f32 %f2, [%rd6];
	add.f32 %f1, %f1, %f2;
	st.global.f32 [%rd3], %f1;
	setp.ge.u32 %p1, %r1, 3;
	@%p1 ret;
	ld.param.u64 %rd7, [out];
	red.global.add.f32 [%rd7+52], %f1;
	ret;`
	m, err := Load(entrySrc("k", body))
	if err != nil {
		t.Fatal(err)
	}
	mem := NewMemory()
	in, _ := mem.AllocF32(iota32(n))
	out, _ := mem.ZerosF32(n)
	s, err := m.LaunchWithStats(mem, "k", [3]int{2, 1, 1}, [3]int{7, 1, 1}, 0, out, in, n)
	if err != nil {
		t.Fatal(err)
	}
	// Distinct: n words of in read; n words of out written; one word (out[13]) atomically
	// read and written by 3 threads.
	want := LaunchStats{Kernel: "k", Grid: [3]int{2, 1, 1}, Block: [3]int{7, 1, 1}, Threads: 7, SharedBytes: 256,
		BytesRead: 4*n + 4, BytesWritten: 4*n + 4, AccessRead: 8*n + 12, AccessWritten: 4*n + 12}
	if s != want {
		t.Errorf("stats\n got %+v\nwant %+v", s, want)
	}
	if s.Blocks() != 2 {
		t.Errorf("Blocks() = %d, want 2", s.Blocks())
	}
	// A second launch over the same memory starts its distinct counts afresh.
	s2, err := m.LaunchWithStats(mem, "k", [3]int{2, 1, 1}, [3]int{7, 1, 1}, 0, out, in, n)
	if err != nil {
		t.Fatal(err)
	}
	if s2.BytesRead != want.BytesRead || s2.BytesWritten != want.BytesWritten {
		t.Errorf("second launch counts %d read, %d written; want %d, %d", s2.BytesRead, s2.BytesWritten, want.BytesRead, want.BytesWritten)
	}
}
