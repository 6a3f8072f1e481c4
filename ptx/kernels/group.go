package kernels

// GroupIDs builds the arguments of embedding_bwd_grouped_f32 from the token ids: each
// distinct id once (in order of first appearance), and the positions of its tokens in
// increasing order as a CSR list: the tokens of uniq[u] are pos[start[u]:start[u+1]].
func GroupIDs(ids []int32) (uniq, start, pos []int32) {
	count := map[int32]int32{}
	for _, id := range ids {
		if count[id] == 0 {
			uniq = append(uniq, id)
		}
		count[id]++
	}
	start = make([]int32, len(uniq)+1)
	slot := make(map[int32]int32, len(uniq))
	for u, id := range uniq {
		start[u+1] = start[u] + count[id]
		slot[id] = start[u]
	}
	pos = make([]int32, len(ids))
	for i, id := range ids {
		pos[slot[id]] = int32(i)
		slot[id]++
	}
	return uniq, start, pos
}
