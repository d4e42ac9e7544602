// concierge_sys: the syscalls Node lacks, one short function each. No decisions here: arguments are
// passed through, results returned as numbers, failures thrown as an Error carrying `errno`
// (negative, as in Node) and `syscall`; concierge/sys/index.ts turns those into Node-style errors.
// Only node_api.h (N-API 8): the same binary loads in the Node 20 used for development and in the
// Node 24 embedded in the single-executable binary.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/openat2.h>
#include <linux/vm_sockets.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 6

static napi_value throw_errno(napi_env env, int err, const char *syscall_name) {
  napi_value message, error, errno_value, syscall_value;
  napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_create_int32(env, -err, &errno_value);
  napi_set_named_property(env, error, "errno", errno_value);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall_value);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static size_t get_args(napi_env env, napi_callback_info info, napi_value *argv) {
  size_t argc = MAX_ARGS;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  return argc;
}

// A string argument as a malloc'd C string; NULL for null/undefined (optional syscall arguments).
static char *get_string(napi_env env, napi_value value) {
  napi_valuetype type;
  size_t length = 0;
  if (value == NULL || napi_typeof(env, value, &type) != napi_ok || type != napi_string) return NULL;
  napi_get_value_string_utf8(env, value, NULL, 0, &length);
  char *text = malloc(length + 1);
  if (text != NULL) napi_get_value_string_utf8(env, value, text, length + 1, &length);
  return text;
}

static int32_t get_int32(napi_env env, napi_value value) {
  int32_t number = 0;
  napi_get_value_int32(env, value, &number);
  return number;
}

static int64_t get_int64(napi_env env, napi_value value) {
  int64_t number = 0;
  napi_get_value_int64(env, value, &number);
  return number;
}

static uint64_t get_bigint_u64(napi_env env, napi_value value) {
  uint64_t number = 0;
  bool lossless;
  napi_get_value_bigint_uint64(env, value, &number, &lossless);
  return number;
}

static napi_value int_result(napi_env env, int64_t number) {
  napi_value result;
  napi_create_int64(env, number, &result);
  return result;
}

static napi_value undefined_result(napi_env env) {
  napi_value result;
  napi_get_undefined(env, &result);
  return result;
}

// mount(source, target, fstype, flags, data)
static napi_value js_mount(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  char *source = get_string(env, argv[0]), *target = get_string(env, argv[1]);
  char *fstype = get_string(env, argv[2]), *data = get_string(env, argv[4]);
  int rc = mount(source, target, fstype, (unsigned long)get_int64(env, argv[3]), data);
  int err = errno;
  free(source), free(target), free(fstype), free(data);
  return rc == 0 ? undefined_result(env) : throw_errno(env, err, "mount");
}

// umount2(target, flags)
static napi_value js_umount2(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  char *target = get_string(env, argv[0]);
  int rc = umount2(target, get_int32(env, argv[1]));
  int err = errno;
  free(target);
  return rc == 0 ? undefined_result(env) : throw_errno(env, err, "umount2");
}

// reboot(cmd)
static napi_value js_reboot(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  return reboot(get_int32(env, argv[0])) == 0 ? undefined_result(env) : throw_errno(env, errno, "reboot");
}

// sethostname(name)
static napi_value js_sethostname(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  char *name = get_string(env, argv[0]);
  int rc = name == NULL ? (errno = EINVAL, -1) : sethostname(name, strlen(name));
  int err = errno;
  free(name);
  return rc == 0 ? undefined_result(env) : throw_errno(env, err, "sethostname");
}

// waitid(P_ALL, 0, WEXITED|WNOHANG|WNOWAIT): the pid of a waitable child left unreaped, or 0.
static napi_value js_waitid_peek(napi_env env, napi_callback_info info) {
  (void)info;
  siginfo_t child;
  memset(&child, 0, sizeof child);
  if (waitid(P_ALL, 0, &child, WEXITED | WNOHANG | WNOWAIT) != 0) return throw_errno(env, errno, "waitid");
  return int_result(env, child.si_pid);
}

// waitpid(pid, options): [pid, raw status]; pid 0 when WNOHANG found nothing.
static napi_value js_waitpid(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0}, result, pid_value, status_value;
  get_args(env, info, argv);
  int status = 0;
  pid_t pid = waitpid(get_int32(env, argv[0]), &status, get_int32(env, argv[1]));
  if (pid < 0) return throw_errno(env, errno, "waitpid");
  napi_create_array_with_length(env, 2, &result);
  napi_create_int32(env, pid, &pid_value);
  napi_create_int32(env, status, &status_value);
  napi_set_element(env, result, 0, pid_value);
  napi_set_element(env, result, 1, status_value);
  return result;
}

// prctl(option, arg2, arg3): the call's result.
static napi_value js_prctl(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  int rc = prctl(get_int32(env, argv[0]), (unsigned long)get_int64(env, argv[1]),
                 (unsigned long)get_int64(env, argv[2]), 0UL, 0UL);
  return rc < 0 ? throw_errno(env, errno, "prctl") : int_result(env, rc);
}

// setrlimit(resource, soft, hard): limits as BigInts (RLIM_INFINITY is all ones).
static napi_value js_setrlimit(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  struct rlimit limit = {get_bigint_u64(env, argv[1]), get_bigint_u64(env, argv[2])};
  return setrlimit(get_int32(env, argv[0]), &limit) == 0 ? undefined_result(env)
                                                          : throw_errno(env, errno, "setrlimit");
}

// getrlimit(resource): [soft, hard] as BigInts.
static napi_value js_getrlimit(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0}, result, soft, hard;
  get_args(env, info, argv);
  struct rlimit limit;
  if (getrlimit(get_int32(env, argv[0]), &limit) != 0) return throw_errno(env, errno, "getrlimit");
  napi_create_array_with_length(env, 2, &result);
  napi_create_bigint_uint64(env, limit.rlim_cur, &soft);
  napi_create_bigint_uint64(env, limit.rlim_max, &hard);
  napi_set_element(env, result, 0, soft);
  napi_set_element(env, result, 1, hard);
  return result;
}

// finit_module(fd, params, flags)
static napi_value js_finit_module(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  char *params = get_string(env, argv[1]);
  long rc = syscall(SYS_finit_module, get_int32(env, argv[0]), params == NULL ? "" : params,
                    get_int32(env, argv[2]));
  int err = errno;
  free(params);
  return rc == 0 ? undefined_result(env) : throw_errno(env, err, "finit_module");
}

// socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, protocol): the fd.
static napi_value js_netlink_open(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, get_int32(env, argv[0]));
  return fd < 0 ? throw_errno(env, errno, "socket") : int_result(env, fd);
}

static int get_buffer(napi_env env, napi_value value, void **data, size_t *length) {
  bool is_buffer = false;
  napi_is_buffer(env, value, &is_buffer);
  if (!is_buffer) return -1;
  return napi_get_buffer_info(env, value, data, length) == napi_ok ? 0 : -1;
}

// sendto(fd, buffer) addressed to the kernel (nl_pid 0): bytes sent.
static napi_value js_netlink_send(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  void *data;
  size_t length;
  if (get_buffer(env, argv[1], &data, &length) != 0) return throw_errno(env, EINVAL, "sendto");
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  ssize_t sent = sendto(get_int32(env, argv[0]), data, length, 0, (struct sockaddr *)&kernel, sizeof kernel);
  return sent < 0 ? throw_errno(env, errno, "sendto") : int_result(env, sent);
}

// recv(fd, buffer, flags): bytes received.
static napi_value js_netlink_recv(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  void *data;
  size_t length;
  if (get_buffer(env, argv[1], &data, &length) != 0) return throw_errno(env, EINVAL, "recv");
  ssize_t received = recv(get_int32(env, argv[0]), data, length, get_int32(env, argv[2]));
  return received < 0 ? throw_errno(env, errno, "recv") : int_result(env, received);
}

// openat2(dirfd, path, flags, mode, resolve): the fd.
static napi_value js_openat2(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  char *path = get_string(env, argv[1]);
  struct open_how how = {
      .flags = (uint64_t)get_int64(env, argv[2]),
      .mode = (uint64_t)get_int64(env, argv[3]),
      .resolve = (uint64_t)get_int64(env, argv[4]),
  };
  long fd = syscall(SYS_openat2, get_int32(env, argv[0]), path, &how, sizeof how);
  int err = errno;
  free(path);
  return fd < 0 ? throw_errno(env, err, "openat2") : int_result(env, fd);
}

// open_tree(dirfd, path, flags): a mount fd.
static napi_value js_open_tree(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  char *path = get_string(env, argv[1]);
  long fd = syscall(SYS_open_tree, get_int32(env, argv[0]), path == NULL ? "" : path,
                    (unsigned int)get_int64(env, argv[2]));
  int err = errno;
  free(path);
  return fd < 0 ? throw_errno(env, err, "open_tree") : int_result(env, fd);
}

// move_mount(from_dirfd, from_path, to_dirfd, to_path, flags)
static napi_value js_move_mount(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  char *from = get_string(env, argv[1]), *to = get_string(env, argv[3]);
  long rc = syscall(SYS_move_mount, get_int32(env, argv[0]), from == NULL ? "" : from, get_int32(env, argv[2]),
                    to == NULL ? "" : to, (unsigned int)get_int64(env, argv[4]));
  int err = errno;
  free(from), free(to);
  return rc == 0 ? undefined_result(env) : throw_errno(env, err, "move_mount");
}

// sync()
// socket(AF_VSOCK, SOCK_STREAM|SOCK_CLOEXEC): the fd.
static napi_value js_vsock_socket(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  return fd < 0 ? throw_errno(env, errno, "socket") : int_result(env, fd);
}

// bind(fd, {AF_VSOCK, cid, port})
static napi_value js_vsock_bind(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  struct sockaddr_vm address = {.svm_family = AF_VSOCK, .svm_cid = (unsigned)get_int64(env, argv[1]), .svm_port = (unsigned)get_int64(env, argv[2])};
  int rc = bind(get_int32(env, argv[0]), (struct sockaddr *)&address, sizeof address);
  return rc == 0 ? undefined_result(env) : throw_errno(env, errno, "bind");
}

// listen(fd, backlog)
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  int rc = listen(get_int32(env, argv[0]), get_int32(env, argv[1]));
  return rc == 0 ? undefined_result(env) : throw_errno(env, errno, "listen");
}

// accept4(fd, NULL, NULL, SOCK_CLOEXEC|flags): the connection's fd.
static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  int fd = accept4(get_int32(env, argv[0]), NULL, NULL, SOCK_CLOEXEC | get_int32(env, argv[1]));
  return fd < 0 ? throw_errno(env, errno, "accept4") : int_result(env, fd);
}

// socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC): [fd, fd] (a connected pair, the tests' stand-in for vsock).
static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return throw_errno(env, errno, "socketpair");
  napi_value pair;
  napi_create_array_with_length(env, 2, &pair);
  napi_set_element(env, pair, 0, int_result(env, fds[0]));
  napi_set_element(env, pair, 1, int_result(env, fds[1]));
  return pair;
}

static napi_value js_mkfifo(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS] = {0};
  get_args(env, info, argv);
  char *path = get_string(env, argv[0]);
  int rc = path == NULL ? (errno = EINVAL, -1) : mkfifo(path, (mode_t)get_int32(env, argv[1]));
  int err = errno;
  free(path);
  return rc == 0 ? undefined_result(env) : throw_errno(env, err, "mkfifo");
}

static napi_value js_sync(napi_env env, napi_callback_info info) {
  (void)info;
  sync();
  return undefined_result(env);
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"mount", NULL, js_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount2", NULL, js_umount2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reboot", NULL, js_reboot, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sethostname", NULL, js_sethostname, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitidPeek", NULL, js_waitid_peek, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitpid", NULL, js_waitpid, NULL, NULL, NULL, napi_enumerable, NULL},
      {"prctl", NULL, js_prctl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setrlimit", NULL, js_setrlimit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getrlimit", NULL, js_getrlimit, NULL, NULL, NULL, napi_enumerable, NULL},
      {"finitModule", NULL, js_finit_module, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkOpen", NULL, js_netlink_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkSend", NULL, js_netlink_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkRecv", NULL, js_netlink_recv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openat2", NULL, js_openat2, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openTree", NULL, js_open_tree, NULL, NULL, NULL, napi_enumerable, NULL},
      {"moveMount", NULL, js_move_mount, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mkfifo", NULL, js_mkfifo, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sync", NULL, js_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"vsockSocket", NULL, js_vsock_socket, NULL, NULL, NULL, napi_enumerable, NULL},
      {"vsockBind", NULL, js_vsock_bind, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_enumerable, NULL},
      {"accept", NULL, js_accept, NULL, NULL, NULL, napi_enumerable, NULL},
      {"socketpair", NULL, js_socketpair, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
