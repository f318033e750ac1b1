/*
 * The smallest native piece the linux-xfrm driver needs: Node has no AF_NETLINK sockets. Messages are
 * built and parsed in TypeScript (src/xfrm/); this file only moves their bytes.
 *   open(protocol, timeoutMs, netns) -> fd
 *                                        socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol), with a
 *                                        receive timeout and extended acks (kernel error messages) on;
 *                                        with a netns path (/var/run/netns/NAME) the socket is made in
 *                                        that network namespace (the thread enters it for the socket()
 *                                        call only, as `ip -n` does), and stays bound to it
 *   send(fd, bytes) -> bytes sent        sendto() to the kernel (nl_pid 0)
 *   receive(fd, buffer) -> bytes read    recv(); -errno (EAGAIN after the timeout) instead of throwing
 *   close(fd)
 * Errors of open and send come back as negative errno values: the caller turns them into result codes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/netlink.h>
#include <node_api.h>

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

static napi_value number(napi_env env, double value) {
  napi_value out;
  napi_create_double(env, value, &out);
  return out;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "missing arguments");
    return 0;
  }
  return 1;
}

static int get_int(napi_env env, napi_value value, int32_t *out) {
  if (napi_get_value_int32(env, value, out) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an integer");
    return 0;
  }
  return 1;
}

static int get_bytes(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Uint8Array");
    return 0;
  }
  *data = raw;
  if (raw == NULL) *length = 0;
  return 1;
}

/* socket() inside the network namespace at `path`, the calling thread returning to its own after. */
static int socket_in(const char *path, int protocol) {
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -errno;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(self);
    return -err;
  }
  int fd = -1;
  if (setns(target, CLONE_NEWNET) < 0) {
    fd = -errno;
  } else {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) fd = -errno;
    if (setns(self, CLONE_NEWNET) < 0) abort(); /* a thread left in another namespace must not go on */
  }
  close(target);
  close(self);
  return fd;
}

static napi_value nl_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t protocol, timeout_ms;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &protocol) || !get_int(env, argv[1], &timeout_ms))
    return NULL;
  char path[256];
  size_t path_length = 0;
  napi_valuetype type;
  napi_typeof(env, argv[2], &type);
  if (type == napi_string) {
    if (napi_get_value_string_utf8(env, argv[2], path, sizeof path, &path_length) != napi_ok ||
        path_length >= sizeof path - 1) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "netns path too long");
      return NULL;
    }
  } else if (type != napi_null && type != napi_undefined) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "netns must be a path or null");
    return NULL;
  }
  int fd = path_length > 0 ? socket_in(path, protocol) : socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) return number(env, path_length > 0 ? fd : -errno);
  struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
    int err = errno;
    close(fd);
    return number(env, -err);
  }
  /* Best effort: older kernels have no extended acks, and the errno alone still says what failed. */
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  return number(env, fd);
}

static napi_value nl_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  uint8_t *data;
  size_t length;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &length))
    return NULL;
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t sent = sendto(fd, data, length, 0, (struct sockaddr *)&kernel, sizeof kernel);
  return number(env, sent < 0 ? -errno : (double)sent);
}

static napi_value nl_receive(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  uint8_t *data;
  size_t length;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], &data, &length))
    return NULL;
  ssize_t got;
  do {
    got = recv(fd, data, length, 0);
  } while (got < 0 && errno == EINTR);
  return number(env, got < 0 ? -errno : (double)got);
}

static napi_value nl_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  return number(env, close(fd) < 0 ? -errno : 0);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, nl_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, nl_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"receive", NULL, nl_receive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, nl_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
