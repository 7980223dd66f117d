// storage-codes.js -- the codes a storage backend returns to the VFS, as
// src/storage.h numbers them. Shared by the Node and OPFS backends so the
// two cannot disagree with each other or with the C.

export const STORAGE_EIO = -1;     // any other failure
export const STORAGE_EFULL = -2;   // out of space or over quota
export const STORAGE_ENOENT = -3;  // no such file
export const STORAGE_EBUSY = -4;   // held by another owner
export const STORAGE_EACCES = -5;  // not permitted
export const STORAGE_CREATE = 1;   // open flag: create when missing
