#include "tcpprogress.h"

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>

namespace Herald {

std::optional<TcpProgress> tcpProgress(int fd)
{
    tcp_info info{};
    socklen_t length = sizeof info;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 ||
        length < offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked)
        return std::nullopt;
    int queued = 0;
    if (::ioctl(fd, SIOCOUTQ, &queued) != 0)
        return std::nullopt;
    return TcpProgress{info.tcpi_bytes_acked, quint32(std::max(queued, 0))};
}

} // namespace Herald
