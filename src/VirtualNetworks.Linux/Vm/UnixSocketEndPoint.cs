using System;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>
    /// A Unix domain socket address (AF_UNIX, a file system path) for <see cref="Socket"/>. netstandard2.0 has no
    /// System.Net.Sockets.UnixDomainSocketEndPoint, but the .NET (Core) runtime passes any <see cref="EndPoint"/>'s
    /// <see cref="Serialize"/> output straight to connect(2)/bind(2) as the native sockaddr. The layout is
    /// <c>struct sockaddr_un { sa_family_t sun_family (= AF_UNIX = 1); char sun_path[108]; }</c>: the
    /// <see cref="SocketAddress"/> constructor fills in the family, the path bytes (UTF-8) follow, NUL-terminated, and
    /// the length covers family + path + NUL. Abstract-namespace addresses (leading NUL) are not supported.
    /// </summary>
    public sealed class UnixSocketEndPoint : EndPoint
    {
        /// <summary>sun_path holds 108 bytes including the terminating NUL.</summary>
        public const int MaxPathBytes = 107;
        private const int FamilyBytes = 2;

        private readonly byte[] _pathBytes;

        public UnixSocketEndPoint(string path)
        {
            if (path == null) throw new ArgumentNullException(nameof(path));
            if (path.Length == 0) throw new ArgumentException("The Unix socket path is empty.", nameof(path));
            if (path.IndexOf('\0') >= 0) throw new ArgumentException("The Unix socket path contains a NUL character.", nameof(path));
            _pathBytes = Encoding.UTF8.GetBytes(path);
            if (_pathBytes.Length > MaxPathBytes)
                throw new ArgumentException("The Unix socket path '" + path + "' is " + _pathBytes.Length + " bytes long; at most " + MaxPathBytes + " are allowed.", nameof(path));
            Path = path;
        }

        // An unnamed peer (what accept(2) reports for a client that did not bind).
        private UnixSocketEndPoint()
        {
            _pathBytes = Array.Empty<byte>();
            Path = "";
        }

        /// <summary>The socket's path ("" for an unnamed peer).</summary>
        public string Path { get; }

        public override AddressFamily AddressFamily => AddressFamily.Unix;

        public override SocketAddress Serialize()
        {
            var sa = new SocketAddress(AddressFamily.Unix, FamilyBytes + _pathBytes.Length + 1);
            for (int i = 0; i < _pathBytes.Length; i++) sa[FamilyBytes + i] = _pathBytes[i];
            sa[FamilyBytes + _pathBytes.Length] = 0;
            return sa;
        }

        public override EndPoint Create(SocketAddress socketAddress)
        {
            if (socketAddress == null) throw new ArgumentNullException(nameof(socketAddress));
            if (socketAddress.Family != AddressFamily.Unix)
                throw new ArgumentException("Not a Unix socket address: " + socketAddress.Family + ".", nameof(socketAddress));
            int n = 0;
            var bytes = new byte[Math.Max(0, socketAddress.Size - FamilyBytes)];
            for (int i = FamilyBytes; i < socketAddress.Size; i++)
            {
                byte b = socketAddress[i];
                if (b == 0) break;
                bytes[n++] = b;
            }
            return n == 0 ? new UnixSocketEndPoint() : new UnixSocketEndPoint(Encoding.UTF8.GetString(bytes, 0, n));
        }

        public override bool Equals(object? obj) => obj is UnixSocketEndPoint o && string.Equals(o.Path, Path, StringComparison.Ordinal);

        public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Path);

        public override string ToString() => Path.Length == 0 ? "(unnamed unix socket)" : Path;
    }
}
