using System.Collections.Generic;
using VirtualNetworks.Backends;
using VirtualNetworks.Engine;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    /// <summary>The engine's summary of a probe stream (Test-VirtualRouterConnection) and the bounds it checks.</summary>
    public sealed class ProbeStreamSummaryTests
    {
        private static ProbeStreamAnswer Answer(int sent, params int[] answered)
        {
            var a = new ProbeStreamAnswer { Sent = sent };
            foreach (var seq in answered) a.RoundTrips[seq] = 1.0 + seq;
            return a;
        }

        [Fact]
        public void Counts_lost_probes_and_the_longest_run_wherever_it_is()
        {
            // 10 sent; 0,1 answered, 2-5 lost (run 4), 6 answered, 7 lost, 8 answered, 9 lost.
            var r = VirtualNetworkService.Summarize(Answer(10, 0, 1, 6, 8), 10);
            Assert.Equal(10, r.Sent);
            Assert.Equal(4, r.Received);
            Assert.Equal(6, r.Lost);
            Assert.Equal(4, r.LongestLossRun);
            Assert.Equal(40, r.LongestGapMilliseconds);
            Assert.Equal(9.0, r.MaximumRoundTripMilliseconds);
            Assert.Equal(4.75, r.AverageRoundTripMilliseconds); // (1 + 2 + 7 + 9) / 4
            Assert.True(r.Reachable);
        }

        [Fact]
        public void A_run_at_the_start_or_the_end_counts_too()
        {
            Assert.Equal(3, VirtualNetworkService.Summarize(Answer(5, 3, 4), 10).LongestLossRun);
            Assert.Equal(4, VirtualNetworkService.Summarize(Answer(5, 0), 10).LongestLossRun);
        }

        [Fact]
        public void Nothing_answered_is_all_lost_without_round_trips()
        {
            var r = VirtualNetworkService.Summarize(Answer(7), 100);
            Assert.Equal(7, r.Lost);
            Assert.Equal(7, r.LongestLossRun);
            Assert.Equal(700, r.LongestGapMilliseconds);
            Assert.Null(r.MaximumRoundTripMilliseconds);
            Assert.Null(r.AverageRoundTripMilliseconds);
            Assert.False(r.Reachable);
        }

        [Fact]
        public void Answers_to_sequence_numbers_never_sent_are_ignored()
        {
            var a = Answer(3, 0, 1, 2);
            a.RoundTrips[5] = 99;
            a.RoundTrips[-1] = 99;
            var r = VirtualNetworkService.Summarize(a, 10);
            Assert.Equal(3, r.Received);
            Assert.Equal(0, r.Lost);
            Assert.Equal(3.0, r.MaximumRoundTripMilliseconds);
        }

        [Theory]
        [InlineData(0, 10)]
        [InlineData(1001, 10)]
        [InlineData(10, 9)]
        [InlineData(10, 10001)]
        [InlineData(1000, 600)] // 600 s: longer than the guest allows
        public void Out_of_bounds_streams_are_InvalidProbe(int count, int interval)
        {
            var ex = Assert.Throws<VirtualNetworksException>(() => VirtualNetworkService.CheckProbeStream("r1", count, interval));
            Assert.Equal(ErrorIds.InvalidProbe, ex.ErrorId);
            Assert.Equal(ErrorKind.InvalidArgument, ex.Kind);
        }

        [Theory]
        [InlineData(1, 10)]
        [InlineData(1000, 10)]
        [InlineData(59, 10000)]
        [InlineData(1000, 590)]
        public void In_bounds_streams_pass(int count, int interval) => VirtualNetworkService.CheckProbeStream("r1", count, interval);
    }
}
