// A stand-in for libcuda.so.1 for the tests of package driver on machines without a GPU.
// It implements the entry points the package binds, with the C signatures of cuda.h, on
// host memory: "device" pointers are malloc'ed blocks, and two kernels run on the CPU
// (saxpy, and echo, which writes its own parameters out so the test can check how they were
// passed). Every call that needs a context checks the calling thread's current context, and
// every memory call checks that the block belongs to that context, so a binding that lets a
// call run on a thread where its context is not current fails here as it would on a GPU.
//
// Built by the tests with: cc -shared -fPIC -o libfakecuda.so fakecuda.c; scripts/cuda-stub.sh
// builds it as libcuda.so.1 too, where the gorgonia.org/cu binding loads it.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;

enum {
	OK = 0, INVALID_VALUE = 1, OUT_OF_MEMORY = 2, NOT_INITIALIZED = 3, INVALID_DEVICE = 101,
	INVALID_CONTEXT = 201, INVALID_PTX = 218, INVALID_HANDLE = 400, NOT_FOUND = 500,
};

#define MAX_CTX 16
#define CAPACITY (64ull << 20)

struct ctx { int live; int id; size_t used; };
struct block { struct ctx *owner; size_t size; };  // header in front of each allocation
struct module { struct ctx *owner; char *image; };
struct function { struct module *mod; char name[64]; int max_dyn_shared; };
struct stream;  // only the default (NULL) stream is used

static int initialized;
static struct ctx contexts[MAX_CTX];
static __thread struct ctx *current;

// Set by each launch, read back by the test through fake_last_launch.
static unsigned last_launch[9];

static int ctx_ok(void) { return initialized && current && current->live; }

static struct block *block_of(CUdeviceptr p) {
	return p ? (struct block *)((char *)(uintptr_t)p - sizeof(struct block)) : NULL;
}

// Checks that [p, p+n) lies in a block of the current context. Only block starts are valid
// pointers here (the tests use no interior pointers).
static int in_ctx(CUdeviceptr p, size_t n) {
	if (!ctx_ok() || p == 0) return 0;
	struct block *b = block_of(p);
	return b->owner == current && n <= b->size;
}

CUresult cuInit(unsigned flags) {
	if (flags != 0) return INVALID_VALUE;
	initialized = 1;
	return OK;
}

CUresult cuDriverGetVersion(int *v) { *v = 12040; return OK; }

CUresult cuDeviceGetCount(int *n) {
	if (!initialized) return NOT_INITIALIZED;
	*n = 1;
	return OK;
}

CUresult cuDeviceGet(CUdevice *d, int ordinal) {
	if (ordinal != 0) return INVALID_DEVICE;
	*d = 0;
	return OK;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice d) {
	if (d != 0) return INVALID_DEVICE;
	snprintf(name, (size_t)len, "Fake GPU");
	return OK;
}

CUresult cuDeviceGetAttribute(int *pi, int attr, CUdevice d) {
	if (d != 0) return INVALID_DEVICE;
	switch (attr) {
	case 1: *pi = 1024; break;      // max threads per block
	case 8: *pi = 49152; break;     // shared per block
	case 10: *pi = 32; break;       // warp size
	case 13: *pi = 1980000; break;  // clock rate kHz
	case 16: *pi = 132; break;      // SMs
	case 38: *pi = 50 << 20; break; // L2
	case 75: *pi = 9; break;        // compute major
	case 76: *pi = 0; break;        // compute minor
	case 97: *pi = 232448; break;   // shared per block opt-in
	default: return INVALID_VALUE;
	}
	return OK;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice d) {
	if (d != 0) return INVALID_DEVICE;
	*bytes = CAPACITY;
	return OK;
}

CUresult cuCtxCreate_v2(struct ctx **pctx, unsigned flags, CUdevice d) {
	if (!initialized) return NOT_INITIALIZED;
	if (d != 0 || flags > 0xff) return INVALID_VALUE;
	for (int i = 0; i < MAX_CTX; i++) {
		if (!contexts[i].live) {
			contexts[i].live = 1;
			contexts[i].id = i;
			contexts[i].used = 0;
			*pctx = &contexts[i];
			current = &contexts[i];
			return OK;
		}
	}
	return OUT_OF_MEMORY;
}

CUresult cuCtxDestroy_v2(struct ctx *c) {
	if (!c || !c->live) return INVALID_CONTEXT;
	c->live = 0;
	if (current == c) current = NULL;
	return OK;
}

CUresult cuCtxSetCurrent(struct ctx *c) {
	if (c && !c->live) return INVALID_CONTEXT;
	current = c;
	return OK;
}

CUresult cuCtxSynchronize(void) { return ctx_ok() ? OK : INVALID_CONTEXT; }

CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
	if (!ctx_ok()) return INVALID_CONTEXT;
	if (n == 0) return INVALID_VALUE;
	// Goroutines share contexts across threads, so the books are kept atomically.
	if (__atomic_add_fetch(&current->used, n, __ATOMIC_SEQ_CST) > CAPACITY) {
		__atomic_sub_fetch(&current->used, n, __ATOMIC_SEQ_CST);
		return OUT_OF_MEMORY;
	}
	struct block *b = malloc(sizeof(struct block) + n);
	if (!b) return OUT_OF_MEMORY;
	b->owner = current;
	b->size = n;
	*p = (CUdeviceptr)(uintptr_t)(b + 1);
	return OK;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
	if (!in_ctx(p, 0)) return ctx_ok() ? INVALID_VALUE : INVALID_CONTEXT;
	struct block *b = block_of(p);
	__atomic_sub_fetch(&current->used, b->size, __ATOMIC_SEQ_CST);
	b->owner = NULL;
	free(b);
	return OK;
}

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
	if (!ctx_ok()) return INVALID_CONTEXT;
	*free_bytes = CAPACITY - __atomic_load_n(&current->used, __ATOMIC_SEQ_CST);
	*total = CAPACITY;
	return OK;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t n) {
	if (!in_ctx(dst, n)) return INVALID_VALUE;
	memcpy((void *)(uintptr_t)dst, src, n);
	return OK;
}

CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t n) {
	if (!in_ctx(src, n)) return INVALID_VALUE;
	memcpy(dst, (void *)(uintptr_t)src, n);
	return OK;
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
	if (!in_ctx(dst, n) || !in_ctx(src, n)) return INVALID_VALUE;
	memmove((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n);
	return OK;
}

CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned v, size_t count) {
	if (!in_ctx(dst, count * 4)) return INVALID_VALUE;
	uint32_t *d = (uint32_t *)(uintptr_t)dst;
	for (size_t i = 0; i < count; i++) d[i] = v;
	return OK;
}

// JIT option numbers of cuda.h's CUjit_option.
enum { INFO_LOG = 3, INFO_LOG_SIZE = 4, ERROR_LOG = 5, ERROR_LOG_SIZE = 6 };

static void write_log(unsigned n, int *opts, void **vals, int buf_opt, int size_opt, const char *msg) {
	char *buf = NULL;
	size_t size = 0;
	int size_at = -1;
	for (unsigned i = 0; i < n; i++) {
		if (opts[i] == buf_opt) buf = vals[i];
		if (opts[i] == size_opt) { size = (size_t)(uintptr_t)vals[i]; size_at = (int)i; }
	}
	if (!buf || size == 0 || size_at < 0) return;
	size_t len = strlen(msg);
	if (len >= size) len = size - 1;
	memcpy(buf, msg, len);
	buf[len] = 0;
	vals[size_at] = (void *)(uintptr_t)(len + 1);
}

CUresult cuModuleLoadDataEx(struct module **m, const void *image, unsigned n, int *opts, void **vals) {
	if (!ctx_ok()) return INVALID_CONTEXT;
	const char *ptx = image;
	if (strstr(ptx, ".version") == NULL || strstr(ptx, "syntax error") != NULL) {
		write_log(n, opts, vals, ERROR_LOG, ERROR_LOG_SIZE,
		          "ptxas application ptx input, line 1; fatal   : fake parse error");
		return INVALID_PTX;
	}
	write_log(n, opts, vals, INFO_LOG, INFO_LOG_SIZE, "ptxas info    : fake compile ok");
	struct module *mod = malloc(sizeof *mod);
	mod->owner = current;
	mod->image = strdup(ptx);
	*m = mod;
	return OK;
}

CUresult cuModuleUnload(struct module *m) {
	if (!ctx_ok() || !m || m->owner != current) return INVALID_HANDLE;
	free(m->image);
	free(m);
	return OK;
}

CUresult cuModuleGetFunction(struct function **f, struct module *m, const char *name) {
	if (!ctx_ok() || m->owner != current) return INVALID_HANDLE;
	char entry[80];
	snprintf(entry, sizeof entry, ".entry %s(", name);
	if (strstr(m->image, entry) == NULL) return NOT_FOUND;
	struct function *fn = calloc(1, sizeof *fn);
	fn->mod = m;
	snprintf(fn->name, sizeof fn->name, "%s", name);
	*f = fn;
	return OK;
}

CUresult cuFuncSetAttribute(struct function *f, int attr, int value) {
	if (!ctx_ok() || f->mod->owner != current) return INVALID_HANDLE;
	if (attr != 8 || value < 0 || value > 232448) return INVALID_VALUE;
	f->max_dyn_shared = value;
	return OK;
}

CUresult cuLaunchKernel(struct function *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned shared, struct stream *s, void **params, void **extra) {
	if (!ctx_ok() || f->mod->owner != current || s != NULL) return INVALID_HANDLE;
	if (extra != NULL || bx * by * bz > 1024 || shared > (unsigned)(f->max_dyn_shared > 49152 ? f->max_dyn_shared : 49152))
		return INVALID_VALUE;
	unsigned rec[9] = {gx, gy, gz, bx, by, bz, shared, s != NULL, 0};
	memcpy(last_launch, rec, sizeof rec);
	if (strcmp(f->name, "saxpy") == 0) {
		// saxpy(.u64 y, .u64 x, .f32 a, .u32 n): y = a*x + y over the launched threads.
		CUdeviceptr y = *(CUdeviceptr *)params[0], x = *(CUdeviceptr *)params[1];
		float a = *(float *)params[2];
		uint32_t n = *(uint32_t *)params[3];
		if (!in_ctx(y, (size_t)n * 4) || !in_ctx(x, (size_t)n * 4)) return 700; // illegal address
		float *yp = (float *)(uintptr_t)y, *xp = (float *)(uintptr_t)x;
		uint64_t threads = (uint64_t)gx * gy * gz * bx * by * bz;
		for (uint64_t i = 0; i < n && i < threads; i++) yp[i] = a * xp[i] + yp[i];
		return OK;
	}
	if (strcmp(f->name, "echo") == 0) {
		// echo(.u64 out, .s32 a, .u32 b, .f32 c, .s64 d, .u64 e): out = a, b, c, 0, d, e.
		CUdeviceptr out = *(CUdeviceptr *)params[0];
		if (!in_ctx(out, 32)) return 700;
		char *o = (char *)(uintptr_t)out;
		memcpy(o, params[1], 4);
		memcpy(o + 4, params[2], 4);
		memcpy(o + 8, params[3], 4);
		memset(o + 12, 0, 4);
		memcpy(o + 16, params[4], 8);
		memcpy(o + 24, params[5], 8);
		return OK;
	}
	return INVALID_HANDLE;
}

CUresult fake_last_launch(unsigned *out) {
	memcpy(out, last_launch, sizeof last_launch);
	return OK;
}

CUresult cuGetErrorName(CUresult r, const char **s) {
	*s = r == OUT_OF_MEMORY ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_FAKE";
	return OK;
}

CUresult cuGetErrorString(CUresult r, const char **s) {
	switch (r) {
	case OUT_OF_MEMORY: *s = "out of memory"; break;
	case INVALID_PTX: *s = "a PTX JIT compilation failed"; break;
	case INVALID_CONTEXT: *s = "invalid device context"; break;
	default: *s = "fake error"; break;
	}
	return OK;
}
