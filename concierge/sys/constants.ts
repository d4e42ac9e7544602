// Linux UAPI numbers for the calls of concierge/sys (x86_64 and arm64 share all of these).

/** mount(2) flags. */
export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  REMOUNT: 32,
  NOATIME: 1024,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  STRICTATIME: 1 << 24,
} as const;

/** umount2(2) flags. */
export const MNT = { FORCE: 1, DETACH: 2, EXPIRE: 4, UMOUNT_NOFOLLOW: 8 } as const;

/** reboot(2) commands. */
export const REBOOT = {
  RESTART: 0x01234567,
  HALT: 0xcdef0123,
  POWER_OFF: 0x4321fedc,
  CAD_ON: 0x89abcdef,
  CAD_OFF: 0,
} as const;

/** waitid(2)/waitpid(2) options. */
export const WAIT = { NOHANG: 1, EXITED: 4, NOWAIT: 0x01000000 } as const;

/** prctl(2) options that take and return plain numbers (the GET_ ones writing through a pointer are left out). */
export const PR = { SET_PDEATHSIG: 1, GET_DUMPABLE: 3, SET_CHILD_SUBREAPER: 36 } as const;

/** setrlimit(2) resources. */
export const RLIMIT = { CPU: 0, FSIZE: 1, DATA: 2, STACK: 3, CORE: 4, NPROC: 6, NOFILE: 7, MEMLOCK: 8, AS: 9 } as const;
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** finit_module(2) flags. */
export const MODULE_INIT = { IGNORE_MODVERSIONS: 1, IGNORE_VERMAGIC: 2, COMPRESSED_FILE: 4 } as const;

/** Socket protocol and recv flags. */
export const NETLINK_ROUTE = 0;
export const MSG_DONTWAIT = 0x40;

/** open(2) flags not in fs.constants. */
export const O = {
  RDONLY: 0,
  DIRECTORY: 0o200000,
  NOFOLLOW: 0o400000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** openat2(2) resolve flags. */
export const RESOLVE = { NO_XDEV: 1, NO_MAGICLINKS: 2, NO_SYMLINKS: 4, BENEATH: 8, IN_ROOT: 0x10, CACHED: 0x20 } as const;

/** *at(2) directory fd and flags. */
export const AT_FDCWD = -100;
export const AT = { SYMLINK_NOFOLLOW: 0x100, EMPTY_PATH: 0x1000, RECURSIVE: 0x8000 } as const;

/** open_tree(2) and move_mount(2) flags. */
export const OPEN_TREE = { CLONE: 1, CLOEXEC: O.CLOEXEC } as const;
export const MOVE_MOUNT = {
  F_SYMLINKS: 1,
  F_AUTOMOUNTS: 2,
  F_EMPTY_PATH: 4,
  T_SYMLINKS: 0x10,
  T_AUTOMOUNTS: 0x20,
  T_EMPTY_PATH: 0x40,
} as const;
