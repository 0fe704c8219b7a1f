using System;
using System.Diagnostics;
using System.IO;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>A point in time to give up at, measured on a monotonic clock.</summary>
    internal readonly struct Deadline
    {
        private readonly Stopwatch _clock;
        private readonly TimeSpan _limit;

        private Deadline(TimeSpan limit)
        {
            _clock = Stopwatch.StartNew();
            _limit = limit == Timeout.InfiniteTimeSpan ? limit : (limit < TimeSpan.Zero ? TimeSpan.Zero : limit);
        }

        public static Deadline After(TimeSpan limit) => new Deadline(limit);

        public TimeSpan Remaining => _limit == Timeout.InfiniteTimeSpan ? TimeSpan.FromDays(1) : (_limit - _clock.Elapsed < TimeSpan.Zero ? TimeSpan.Zero : _limit - _clock.Elapsed);
        public bool Expired => _limit != Timeout.InfiniteTimeSpan && _clock.Elapsed >= _limit;
        public TimeSpan Elapsed => _clock.Elapsed;
    }

    /// <summary>Why a connection attempt failed.</summary>
    internal enum ConnectFailure
    {
        None,
        /// <summary>The socket file does not exist (yet).</summary>
        Missing,
        /// <summary>Nobody listens on it (the process died; the file is stale).</summary>
        Refused,
        /// <summary>The listener's backlog is full.</summary>
        Busy,
    }

    /// <summary>
    /// A connected Unix stream socket with line-oriented, deadline-bounded reads (UTF-8, '\n' terminated, '\r' dropped).
    /// Reads poll in slices of 100 ms so cancellation is noticed promptly.
    /// </summary>
    internal sealed class UnixLineConnection : IDisposable
    {
        private const int MaxLineBytes = 1 << 20;
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);

        private readonly Socket _socket;
        private readonly byte[] _buffer = new byte[8192];
        private readonly MemoryStream _pending = new MemoryStream();
        private int _scanFrom;
        private bool _eof;

        private UnixLineConnection(Socket socket, string path)
        {
            _socket = socket;
            Path = path;
        }

        public string Path { get; }

        /// <summary>
        /// Connects to <paramref name="path"/>. While the deadline has not passed, retries when the listener's backlog is
        /// full, and also when the file is missing or refuses connections if <paramref name="retryUnavailable"/> is set
        /// (a QEMU still starting). Returns null with the reason when it gives up.
        /// </summary>
        public static UnixLineConnection? TryConnect(string path, Deadline deadline, bool retryUnavailable, CancellationToken cancellationToken, out ConnectFailure failure, out string detail)
        {
            var endPoint = new UnixSocketEndPoint(path);
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    // Non-blocking: a full backlog gives EAGAIN at once instead of blocking without a bound.
                    s.Blocking = false;
                    s.Connect(endPoint);
                    s.Blocking = true;
                    failure = ConnectFailure.None;
                    detail = "";
                    return new UnixLineConnection(s, path);
                }
                catch (SocketException ex)
                {
                    s.Dispose();
                    if (!File.Exists(path)) failure = ConnectFailure.Missing;
                    else if (ex.SocketErrorCode == SocketError.WouldBlock || ex.SocketErrorCode == SocketError.TryAgain ||
                             ex.SocketErrorCode == SocketError.InProgress) failure = ConnectFailure.Busy;
                    else failure = ConnectFailure.Refused;
                    detail = ex.Message;
                    bool retry = failure == ConnectFailure.Busy || retryUnavailable;
                    if (!retry || deadline.Expired) return null;
                    if (cancellationToken.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(Math.Min(50, Math.Max(1, deadline.Remaining.TotalMilliseconds)))))
                        cancellationToken.ThrowIfCancellationRequested();
                }
                catch
                {
                    s.Dispose();
                    throw;
                }
            }
        }

        /// <summary>
        /// Writes the text (UTF-8) completely. Throws <see cref="TimeoutException"/> when the peer does not take it
        /// before the deadline (a paused guest stops reading once the socket buffer is full).
        /// </summary>
        public void Write(string text, Deadline deadline)
        {
            byte[] bytes = Utf8.GetBytes(text);
            int sent = 0;
            while (sent < bytes.Length)
            {
                var left = deadline.Remaining;
                if (left <= TimeSpan.Zero) throw new TimeoutException("The peer on " + Path + " did not accept the data in time.");
                _socket.SendTimeout = (int)Math.Max(1, Math.Min(int.MaxValue, left.TotalMilliseconds));
                try
                {
                    sent += _socket.Send(bytes, sent, bytes.Length - sent, SocketFlags.None);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.TimedOut || ex.SocketErrorCode == SocketError.WouldBlock)
                {
                    throw new TimeoutException("The peer on " + Path + " did not accept the data in time.", ex);
                }
            }
        }

        /// <summary>
        /// The next line, or null at end of stream. Throws <see cref="TimeoutException"/> when no complete line arrived
        /// before the deadline.
        /// </summary>
        public string? ReadLine(Deadline deadline, CancellationToken cancellationToken)
        {
            while (true)
            {
                string? line = TakeLine();
                if (line != null) return line;
                if (_eof)
                {
                    if (_pending.Length == 0) return null;
                    string rest = Utf8.GetString(_pending.GetBuffer(), 0, (int)_pending.Length);
                    _pending.SetLength(0);
                    _scanFrom = 0;
                    return rest.TrimEnd('\r');
                }
                Fill(deadline, cancellationToken);
            }
        }

        private void Fill(Deadline deadline, CancellationToken cancellationToken)
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var left = deadline.Remaining;
                if (left <= TimeSpan.Zero) throw new TimeoutException("No reply on " + Path + " in time.");
                int slice = (int)Math.Max(1, Math.Min(100, left.TotalMilliseconds));
                if (!_socket.Poll(slice * 1000, SelectMode.SelectRead)) continue;
                int n;
                try
                {
                    n = _socket.Receive(_buffer, 0, _buffer.Length, SocketFlags.None);
                }
                catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
                {
                    n = 0;
                }
                if (n == 0)
                {
                    _eof = true;
                    return;
                }
                _pending.Write(_buffer, 0, n);
                if (_pending.Length > MaxLineBytes) throw new IOException("A line longer than " + MaxLineBytes + " bytes arrived on " + Path + ".");
                return;
            }
        }

        private string? TakeLine()
        {
            byte[] buf = _pending.GetBuffer();
            int len = (int)_pending.Length;
            for (int i = _scanFrom; i < len; i++)
            {
                if (buf[i] != (byte)'\n') continue;
                int end = i > 0 && buf[i - 1] == (byte)'\r' ? i - 1 : i;
                string line = Utf8.GetString(buf, 0, end);
                int rest = len - (i + 1);
                Buffer.BlockCopy(buf, i + 1, buf, 0, rest);
                _pending.SetLength(rest);
                _scanFrom = 0;
                return line;
            }
            _scanFrom = len;
            return null;
        }

        public void Dispose()
        {
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
            _socket.Dispose();
        }
    }
}
