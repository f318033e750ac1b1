/*
 * The system calls Node has no API for that the io adapters and the linux-xfrm offload driver need.
 * Packets and netlink messages are parsed and built in TypeScript; this file opens descriptors and
 * moves bytes between them and caller-owned buffers.
 *
 *   tunFeatures() -> IFF_* flags the kernel's TUN driver offers (TUNGETFEATURES), or -errno
 *   openTun(name, multiQueue) -> fd   one queue of TUN device `name` (IFF_TUN | IFF_NO_PI, and
 *                                     IFF_MULTI_QUEUE when asked), non-blocking
 *   openRaw(family, protocol, headerIncluded) -> fd
 *                                     a non-blocking raw IP socket (4 or 6); with headerIncluded the
 *                                     caller writes the IP header (IP_HDRINCL / IPV6_HDRINCL); IPv6
 *                                     sockets report each packet's destination (IPV6_RECVPKTINFO)
 *   readBatch(fd, bytes, offsets, lengths, count, capacity) -> packets read
 *                                     read() into bytes[offsets[i], +capacity) until EAGAIN or count
 *   writeBatch(fd, bytes, offsets, lengths, count) -> packets taken
 *                                     write() each until EAGAIN or count; a packet the fd refuses
 *                                     (EINVAL, EIO) gets lengths[i] = 0 and the batch goes on
 *   recvBatch(fd, bytes, offsets, lengths, count, capacity, addresses[, ports]) -> packets received
 *                                     recvmmsg(); addresses gets 32 bytes per packet: the source, then
 *                                     the destination (IPv6 only), IPv4 in the first 4 bytes of each;
 *                                     ports (Uint16Array), when given, each source port
 *   sendBatch(fd, family, bytes, offsets, lengths, addresses, count[, ports]) -> packets sent
 *                                     sendmmsg() to the addresses (16 bytes per packet, IPv4 first 4),
 *                                     and with ports (Uint16Array) to those ports (UDP)
 *   openUdp(family, address, port, bufferBytes) -> fd
 *                                     a non-blocking UDP socket bound to address (16 bytes, IPv4 in the
 *                                     first 4) and port (0: any), its buffers as large as allowed
 *   localPort(fd) -> the port a socket is bound to (getsockname)
 *   watch(fd, callback) -> handle     calls callback(status) on the event loop whenever fd is readable
 *   pauseWatch(handle, paused)        stops (true) or restarts (false) the calls, the fd left open
 *   unwatch(handle)
 *   openNetlink(protocol, timeoutMs, netnsPath) -> fd
 *                                     socket(AF_NETLINK, SOCK_RAW, protocol), blocking with a receive
 *                                     timeout, extended acks on where the kernel has them; with a netns
 *                                     path (/var/run/netns/NAME) the thread enters that namespace for
 *                                     the socket() call only, as `ip -n` does, and the socket stays in it
 *   netlinkSend(fd, bytes) -> bytes sent
 *                                     sendto() the kernel (nl_pid 0)
 *   netlinkReceive(fd, buffer) -> bytes received
 *                                     recv() one message batch; -EAGAIN once the timeout passed
 * Descriptors are closed with Node's fs.closeSync.
 * Failures come back as negative errno values (a batch call returns what it moved before the first
 * failure, or -errno when it moved nothing); only wrong argument types throw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <node_api.h>
#include <uv.h>

#ifndef IFF_MULTI_QUEUE
#define IFF_MULTI_QUEUE 0x0100
#endif
#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif

/* Socket buffers of raw sockets. */
#define RAW_BUFFER_BYTES (8 * 1024 * 1024)

/* Most packets one recvmmsg/sendmmsg call moves. */
#define MAX_BATCH 64

static napi_value number(napi_env env, double value) {
  napi_value out;
  napi_create_double(env, value, &out);
  return out;
}

/* Arguments, of which the last `optional` may be left out (they are then undefined). */
static int get_args_optional(napi_env env, napi_callback_info info, size_t want, size_t optional,
                             napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc + optional < want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "missing arguments");
    return 0;
  }
  if (argc < want) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    for (size_t i = argc; i < want; i++) argv[i] = undefined;
  }
  return 1;
}

/* An optional Uint16Array of ports: *ports stays NULL when the argument is undefined or null. */
static int get_ports(napi_env env, napi_value value, int32_t count, uint16_t **ports) {
  *ports = NULL;
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_undefined || type == napi_null) return 1;
  napi_typedarray_type array_type;
  size_t length;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, value, &array_type, &length, &raw, NULL, NULL) != napi_ok ||
      array_type != napi_uint16_array) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a Uint16Array of ports");
    return 0;
  }
  if (length < (size_t)count) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "ports holds fewer entries than packets");
    return 0;
  }
  *ports = raw;
  return 1;
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

static int get_bool(napi_env env, napi_value value, int *out) {
  bool b;
  if (napi_get_value_bool(env, value, &b) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a boolean");
    return 0;
  }
  *out = b ? 1 : 0;
  return 1;
}

static int get_array(napi_env env, napi_value value, napi_typedarray_type want, void **data, size_t *length) {
  napi_typedarray_type type;
  void *raw = NULL;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL) != napi_ok || type != want) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE",
                          want == napi_uint8_array ? "expected a Uint8Array" : "expected a Uint32Array");
    return 0;
  }
  *data = raw;
  if (raw == NULL) *length = 0;
  return 1;
}

/* The packet buffers of a batch call: bytes, offsets and lengths, checked against each other. */
typedef struct {
  uint8_t *bytes;
  size_t byte_length;
  uint32_t *offsets;
  uint32_t *lengths;
  int32_t count;
} batch_t;

static int get_batch(napi_env env, napi_value *argv, int32_t count, batch_t *b) {
  size_t offsets_length, lengths_length;
  if (!get_array(env, argv[0], napi_uint8_array, (void **)&b->bytes, &b->byte_length) ||
      !get_array(env, argv[1], napi_uint32_array, (void **)&b->offsets, &offsets_length) ||
      !get_array(env, argv[2], napi_uint32_array, (void **)&b->lengths, &lengths_length))
    return 0;
  if (count < 0 || (size_t)count > offsets_length || (size_t)count > lengths_length) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "count exceeds the offsets or lengths");
    return 0;
  }
  b->count = count;
  return 1;
}

/* Whether [offset, offset + length) lies inside the buffer: the kernel must never write past it. */
static int span_ok(const batch_t *b, int32_t i, size_t length) {
  size_t offset = b->offsets[i];
  return offset <= b->byte_length && length <= b->byte_length - offset;
}

static napi_value sys_tun_features(napi_env env, napi_callback_info info) {
  (void)info;
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return number(env, -errno);
  unsigned int features = 0;
  int rc = ioctl(fd, TUNGETFEATURES, &features);
  int err = errno;
  close(fd);
  return number(env, rc < 0 ? -err : (double)features);
}

static napi_value sys_open_tun(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int multi_queue;
  if (!get_args(env, info, 2, argv) || !get_bool(env, argv[1], &multi_queue)) return NULL;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  size_t name_length = 0;
  if (napi_get_value_string_utf8(env, argv[0], ifr.ifr_name, IFNAMSIZ, &name_length) != napi_ok ||
      name_length == 0 || name_length >= IFNAMSIZ - 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected an interface name of 1 to 14 bytes");
    return NULL;
  }
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multi_queue ? IFF_MULTI_QUEUE : 0);
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return number(env, -errno);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return number(env, -err);
  }
  return number(env, fd);
}

static napi_value sys_open_raw(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t family, protocol;
  int header_included;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], &family) || !get_int(env, argv[1], &protocol) ||
      !get_bool(env, argv[2], &header_included))
    return NULL;
  if (family != 4 && family != 6) return number(env, -EAFNOSUPPORT);
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return number(env, -errno);
  int on = 1;
  int rc = 0;
  /* A full receive queue makes the kernel answer the sender with ICMP protocol unreachable: give it
     room for bursts (beyond net.core.rmem_max where the process may). */
  int room = RAW_BUFFER_BYTES;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &room, sizeof room) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &room, sizeof room);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &room, sizeof room) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &room, sizeof room);
  if (family == 6) rc = setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
  if (rc == 0 && header_included) {
    rc = family == 4 ? setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &on, sizeof on)
                     : setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &on, sizeof on);
  }
  if (rc < 0) {
    int err = errno;
    close(fd);
    return number(env, -err);
  }
  return number(env, fd);
}

static napi_value sys_read_batch(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  int32_t fd, count, capacity;
  batch_t b;
  if (!get_args(env, info, 6, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[4], &count) ||
      !get_int(env, argv[5], &capacity) || !get_batch(env, argv + 1, count, &b))
    return NULL;
  int32_t n = 0;
  while (n < b.count) {
    if (capacity <= 0 || !span_ok(&b, n, (size_t)capacity)) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "a packet span runs past the buffer");
      return NULL;
    }
    ssize_t got = read(fd, b.bytes + b.offsets[n], (size_t)capacity);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (n == 0 && errno != EAGAIN) return number(env, -errno);
      break;
    }
    b.lengths[n++] = (uint32_t)got;
  }
  return number(env, n);
}

static napi_value sys_write_batch(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t fd, count;
  batch_t b;
  if (!get_args(env, info, 5, argv) || !get_int(env, argv[0], &fd) || !get_int(env, argv[4], &count) ||
      !get_batch(env, argv + 1, count, &b))
    return NULL;
  int32_t n = 0;
  while (n < b.count) {
    if (!span_ok(&b, n, b.lengths[n])) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "a packet span runs past the buffer");
      return NULL;
    }
    ssize_t put = write(fd, b.bytes + b.offsets[n], b.lengths[n]);
    if (put < 0) {
      if (errno == EINTR) continue;
      /* A full queue stops the batch; a packet the device refuses is marked (length 0) and skipped. */
      if (errno == EAGAIN || errno == ENOBUFS || errno == EBADF) {
        if (n == 0) return number(env, -errno);
        break;
      }
      b.lengths[n] = 0;
    }
    n++;
  }
  return number(env, n);
}

static napi_value sys_recv_batch(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  int32_t fd, count, capacity;
  batch_t b;
  uint8_t *addresses;
  size_t addresses_length;
  uint16_t *ports;
  if (!get_args_optional(env, info, 8, 1, argv) || !get_int(env, argv[0], &fd) ||
      !get_int(env, argv[4], &count) || !get_int(env, argv[5], &capacity) ||
      !get_batch(env, argv + 1, count, &b) ||
      !get_array(env, argv[6], napi_uint8_array, (void **)&addresses, &addresses_length))
    return NULL;
  if (count > MAX_BATCH) count = MAX_BATCH;
  if (!get_ports(env, argv[7], count, &ports)) return NULL;
  if ((size_t)count * 32 > addresses_length) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "addresses holds fewer than 32 bytes per packet");
    return NULL;
  }
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iovs[MAX_BATCH];
  struct sockaddr_storage names[MAX_BATCH];
  /* Room for one IPV6_PKTINFO control message per packet. */
  uint64_t control[MAX_BATCH][8];
  memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
  for (int32_t i = 0; i < count; i++) {
    if (capacity <= 0 || !span_ok(&b, i, (size_t)capacity)) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "a packet span runs past the buffer");
      return NULL;
    }
    iovs[i].iov_base = b.bytes + b.offsets[i];
    iovs[i].iov_len = (size_t)capacity;
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &names[i];
    msgs[i].msg_hdr.msg_namelen = sizeof names[i];
    msgs[i].msg_hdr.msg_control = control[i];
    msgs[i].msg_hdr.msg_controllen = sizeof control[i];
  }
  int got;
  do {
    got = recvmmsg(fd, msgs, (unsigned int)count, MSG_DONTWAIT, NULL);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return number(env, errno == EAGAIN ? 0 : -errno);
  for (int i = 0; i < got; i++) {
    uint8_t *out = addresses + (size_t)i * 32;
    memset(out, 0, 32);
    b.lengths[i] = msgs[i].msg_len;
    uint16_t port = 0;
    if (names[i].ss_family == AF_INET) {
      memcpy(out, &((struct sockaddr_in *)&names[i])->sin_addr, 4);
      port = ntohs(((struct sockaddr_in *)&names[i])->sin_port);
    } else if (names[i].ss_family == AF_INET6) {
      memcpy(out, &((struct sockaddr_in6 *)&names[i])->sin6_addr, 16);
      port = ntohs(((struct sockaddr_in6 *)&names[i])->sin6_port);
    }
    if (ports != NULL) ports[i] = port;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msgs[i].msg_hdr); c != NULL; c = CMSG_NXTHDR(&msgs[i].msg_hdr, c)) {
      if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        memcpy(out + 16, &((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_addr, 16);
      }
    }
  }
  return number(env, got);
}

static napi_value sys_send_batch(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  int32_t fd, family, count;
  batch_t b;
  uint8_t *addresses;
  size_t addresses_length;
  uint16_t *ports;
  if (!get_args_optional(env, info, 8, 1, argv) || !get_int(env, argv[0], &fd) ||
      !get_int(env, argv[1], &family) || !get_int(env, argv[6], &count) ||
      !get_batch(env, argv + 2, count, &b) ||
      !get_array(env, argv[5], napi_uint8_array, (void **)&addresses, &addresses_length))
    return NULL;
  if (count > MAX_BATCH) count = MAX_BATCH;
  if (!get_ports(env, argv[7], count, &ports)) return NULL;
  if ((size_t)count * 16 > addresses_length) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "addresses holds fewer than 16 bytes per packet");
    return NULL;
  }
  if (family != 4 && family != 6) return number(env, -EAFNOSUPPORT);
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iovs[MAX_BATCH];
  struct sockaddr_storage names[MAX_BATCH];
  memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)count);
  memset(names, 0, sizeof(struct sockaddr_storage) * (size_t)count);
  for (int32_t i = 0; i < count; i++) {
    if (!span_ok(&b, i, b.lengths[i])) {
      napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "a packet span runs past the buffer");
      return NULL;
    }
    iovs[i].iov_base = b.bytes + b.offsets[i];
    iovs[i].iov_len = b.lengths[i];
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &names[i];
    if (family == 4) {
      struct sockaddr_in *sin = (struct sockaddr_in *)&names[i];
      sin->sin_family = AF_INET;
      if (ports != NULL) sin->sin_port = htons(ports[i]);
      memcpy(&sin->sin_addr, addresses + (size_t)i * 16, 4);
      msgs[i].msg_hdr.msg_namelen = sizeof *sin;
    } else {
      struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&names[i];
      sin6->sin6_family = AF_INET6;
      if (ports != NULL) sin6->sin6_port = htons(ports[i]);
      memcpy(&sin6->sin6_addr, addresses + (size_t)i * 16, 16);
      msgs[i].msg_hdr.msg_namelen = sizeof *sin6;
    }
  }
  int sent;
  do {
    sent = sendmmsg(fd, msgs, (unsigned int)count, MSG_DONTWAIT);
  } while (sent < 0 && errno == EINTR);
  return number(env, sent < 0 ? -errno : sent);
}

/* Socket buffers of UDP sockets: beyond net.core.[rw]mem_max where the process may (root). */
static void set_buffers(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

static napi_value sys_open_udp(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t family, port, buffer_bytes;
  uint8_t *address;
  size_t address_length;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], &family) ||
      !get_array(env, argv[1], napi_uint8_array, (void **)&address, &address_length) ||
      !get_int(env, argv[2], &port) || !get_int(env, argv[3], &buffer_bytes))
    return NULL;
  if (family != 4 && family != 6) return number(env, -EAFNOSUPPORT);
  if (address_length < 16 || port < 0 || port > 65535 || buffer_bytes < 0) return number(env, -EINVAL);
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return number(env, -errno);
  if (buffer_bytes > 0) set_buffers(fd, buffer_bytes);
  struct sockaddr_storage name;
  memset(&name, 0, sizeof name);
  socklen_t name_length;
  int rc = 0;
  if (family == 4) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&name;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    memcpy(&sin->sin_addr, address, 4);
    name_length = sizeof *sin;
  } else {
    int on = 1;
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&name;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    memcpy(&sin6->sin6_addr, address, 16);
    name_length = sizeof *sin6;
  }
  if (rc == 0) rc = bind(fd, (struct sockaddr *)&name, name_length);
  if (rc < 0) {
    int err = errno;
    close(fd);
    return number(env, -err);
  }
  return number(env, fd);
}

static napi_value sys_local_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage name;
  socklen_t length = sizeof name;
  if (getsockname(fd, (struct sockaddr *)&name, &length) < 0) return number(env, -errno);
  if (name.ss_family == AF_INET) return number(env, ntohs(((struct sockaddr_in *)&name)->sin_port));
  if (name.ss_family == AF_INET6) return number(env, ntohs(((struct sockaddr_in6 *)&name)->sin6_port));
  return number(env, -EAFNOSUPPORT);
}

/* A readability watch: libuv polls the fd on Node's own event loop and calls back into JavaScript. */
typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  int stopped;
} watcher_t;

static void on_closed(uv_handle_t *handle) {
  watcher_t *w = handle->data;
  free(w);
}

static void on_readable(uv_poll_t *poll, int status, int events) {
  (void)events;
  watcher_t *w = poll->data;
  if (w->stopped) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, argument;
  napi_get_reference_value(env, w->callback, &callback);
  napi_get_global(env, &receiver);
  napi_create_int32(env, status, &argument);
  if (napi_make_callback(env, w->context, receiver, callback, 1, &argument, NULL) == napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

static void stop_watcher(watcher_t *w) {
  if (w->stopped) return;
  w->stopped = 1;
  uv_poll_stop(&w->poll);
  napi_delete_reference(w->env, w->callback);
  napi_async_destroy(w->env, w->context);
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static napi_value sys_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd)) return NULL;
  napi_valuetype type;
  napi_typeof(env, argv[1], &type);
  if (type != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a callback");
    return NULL;
  }
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  watcher_t *w = calloc(1, sizeof *w);
  if (w == NULL) return number(env, -ENOMEM);
  w->env = env;
  w->poll.data = w;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(w);
    return number(env, rc);
  }
  napi_value name;
  napi_create_string_utf8(env, "espresso:fd-watch", NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, argv[1], 1, &w->callback);
  napi_async_init(env, NULL, name, &w->context);
  rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (rc < 0) {
    stop_watcher(w);
    return number(env, rc);
  }
  napi_value handle;
  napi_create_external(env, w, NULL, NULL, &handle);
  return handle;
}

static napi_value sys_pause_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int paused;
  if (!get_args(env, info, 2, argv) || !get_bool(env, argv[1], &paused)) return NULL;
  void *data;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a watch handle");
    return NULL;
  }
  watcher_t *w = data;
  if (w->stopped) return number(env, -EBADF);
  int rc = paused ? uv_poll_stop(&w->poll) : uv_poll_start(&w->poll, UV_READABLE, on_readable);
  return number(env, rc);
}

static napi_value sys_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  void *data;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a watch handle");
    return NULL;
  }
  stop_watcher(data);
  return NULL;
}

/* A netlink socket made inside the network namespace at `path`; the thread goes back to its own after. */
static int netlink_socket_in(const char *path, int protocol) {
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -errno;
  int target = open(path, O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int err = errno;
    close(self);
    return -err;
  }
  int fd;
  if (setns(target, CLONE_NEWNET) < 0) {
    fd = -errno;
  } else {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) fd = -errno;
    /* The event loop's thread must not go on in another namespace: every later socket would land there. */
    if (setns(self, CLONE_NEWNET) < 0) abort();
  }
  close(target);
  close(self);
  return fd;
}

static napi_value sys_open_netlink(napi_env env, napi_callback_info info) {
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
        path_length == 0 || path_length >= sizeof path - 1) {
      napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a netns path of 1 to 254 bytes");
      return NULL;
    }
  } else if (type != napi_null) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "expected a netns path or null");
    return NULL;
  }
  if (timeout_ms <= 0) return number(env, -EINVAL);
  int fd;
  if (path_length > 0) {
    fd = netlink_socket_in(path, protocol);
  } else {
    fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) fd = -errno;
  }
  if (fd < 0) return number(env, fd);
  struct timeval timeout = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) < 0) {
    int err = errno;
    close(fd);
    return number(env, -err);
  }
  /* Best effort: without extended acks (older kernels) the errno alone still says what failed. */
  int on = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  return number(env, fd);
}

static napi_value sys_netlink_send(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  uint8_t *bytes;
  size_t length;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) ||
      !get_array(env, argv[1], napi_uint8_array, (void **)&bytes, &length))
    return NULL;
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd, bytes, length, 0, (struct sockaddr *)&kernel, sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  return number(env, sent < 0 ? -errno : (double)sent);
}

static napi_value sys_netlink_receive(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  uint8_t *buffer;
  size_t length;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], &fd) ||
      !get_array(env, argv[1], napi_uint8_array, (void **)&buffer, &length))
    return NULL;
  ssize_t got;
  do {
    got = recv(fd, buffer, length, 0);
  } while (got < 0 && errno == EINTR);
  return number(env, got < 0 ? -errno : (double)got);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tunFeatures", NULL, sys_tun_features, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openTun", NULL, sys_open_tun, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openRaw", NULL, sys_open_raw, NULL, NULL, NULL, napi_enumerable, NULL},
      {"readBatch", NULL, sys_read_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"writeBatch", NULL, sys_write_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvBatch", NULL, sys_recv_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendBatch", NULL, sys_send_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openUdp", NULL, sys_open_udp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"localPort", NULL, sys_local_port, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, sys_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"pauseWatch", NULL, sys_pause_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unwatch", NULL, sys_unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openNetlink", NULL, sys_open_netlink, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkSend", NULL, sys_netlink_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"netlinkReceive", NULL, sys_netlink_receive, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
