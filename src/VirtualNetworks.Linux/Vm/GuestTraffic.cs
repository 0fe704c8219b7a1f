using System;
using System.Threading;

namespace VirtualNetworks.Linux.Vm
{
    /// <summary>
    /// TEST SEAM, not a feature: counts the round trips this flow of execution makes to routers (QMP sessions and
    /// commands, guest command-channel exchanges), so that tests can show how a command's talk with the guests grows with
    /// the number of routers. An <see cref="AsyncLocal{T}"/> as <see cref="Net.NetTools"/>' command interceptor: it reaches
    /// the threads the flow starts and nothing else, so tests running beside it do not disturb the counts. Only tests set
    /// it (through InternalsVisibleTo); nothing in the product does.
    /// </summary>
    internal sealed class GuestTraffic
    {
        private static readonly AsyncLocal<GuestTraffic?> Current = new AsyncLocal<GuestTraffic?>();

        private long _qmpSessions;
        private long _qmpCommands;
        private long _channelExchanges;

        /// <summary>QMP connections opened (each greeting and capability negotiation).</summary>
        public long QmpSessions => Interlocked.Read(ref _qmpSessions);
        /// <summary>QMP commands sent (qmp_capabilities included).</summary>
        public long QmpCommands => Interlocked.Read(ref _qmpCommands);
        /// <summary>Requests sent over guests' command channels.</summary>
        public long ChannelExchanges => Interlocked.Read(ref _channelExchanges);

        /// <summary>Counts this flow's round trips into <paramref name="tally"/> until disposed.</summary>
        internal static IDisposable Count(GuestTraffic tally)
        {
            var previous = Current.Value;
            Current.Value = tally ?? throw new ArgumentNullException(nameof(tally));
            return new Restore(previous);
        }

        private sealed class Restore : IDisposable
        {
            private readonly GuestTraffic? _previous;
            public Restore(GuestTraffic? previous) => _previous = previous;
            public void Dispose() => Current.Value = _previous;
        }

        internal static void QmpSession()
        {
            if (Current.Value is GuestTraffic t) Interlocked.Increment(ref t._qmpSessions);
        }

        internal static void QmpCommand()
        {
            if (Current.Value is GuestTraffic t) Interlocked.Increment(ref t._qmpCommands);
        }

        internal static void ChannelExchange()
        {
            if (Current.Value is GuestTraffic t) Interlocked.Increment(ref t._channelExchanges);
        }
    }
}
