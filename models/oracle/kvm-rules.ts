/**
 * The documented KVM_CLEAR_DIRTY_LOG contract (api.rst 4.117, kvm_main.c), written from the specification
 * and independently of the simulated kernel code in models/dirty-bitmap, for INV-CLEAR-EXACT:
 * a valid CLEAR re-arms exactly { p requested : bit(p) was set, first <= p < first + num, p < npages }.
 * Valid means: first_page a multiple of 64; first_page + num_pages <= npages; num_pages a multiple of 64
 * unless the range ends exactly at npages; num_pages == 0 is a valid no-op.
 */
export function clearRequestValid(npages: number, first: number, num: number): boolean {
  if (first % 64 !== 0) return false;
  if (first + num > npages) return false;
  return num % 64 === 0 || first + num === npages;
}

/** errno values of the KVM_CLEAR_DIRTY_LOG contract (include/uapi/asm-generic/errno-base.h). */
export const REF_EINVAL = 22;
export const REF_ENOENT = 2;

/**
 * The errno KVM_CLEAR_DIRTY_LOG must return (0: success), in kvm_clear_dirty_log_protect's order (kvm_main.c):
 * an unaligned first_page is -EINVAL before the memslot is even looked up; then a slot without a dirty bitmap
 * (logging never enabled on it) is -ENOENT; then the range rules of `clearRequestValid` (-EINVAL). The slot id
 * itself is always a valid one here (the model has no address spaces).
 */
export function referenceClearErrno(hasBitmap: boolean, npages: number, first: number, num: number): number {
  if (first % 64 !== 0) return REF_EINVAL;
  if (!hasBitmap) return REF_ENOENT;
  return clearRequestValid(npages, first, num) ? 0 : REF_EINVAL;
}

/** Offsets a valid CLEAR must re-arm (sorted), or [] for an invalid one (it must change nothing). */
export function referenceClearRearm(npages: number, first: number, num: number, requested: readonly number[],
  wasSet: (offset: number) => boolean): number[] {
  if (!clearRequestValid(npages, first, num)) return [];
  const out = new Set<number>();
  for (const p of requested) if (p >= first && p < first + num && p < npages && wasSet(p)) out.add(p);
  return [...out].sort((a, b) => a - b);
}
