using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Planning;
using Xunit;

namespace VirtualNetworks.Core.Tests
{
    /// <summary>How the planner compares a desired link with an observed one (VLAN choice, bandwidth granularity).</summary>
    public class PlannerLinkRulesTests
    {
        private static TopologySpec Desired(long? bandwidth, int? vlan) => new TopologySpec
        {
            Routers = { new RouterSpec { Name = "a", Image = "router" }, new RouterSpec { Name = "b", Image = "router" } },
            Links = { new LinkSpec { Name = "a-b", From = "a", To = "b", MaximumBandwidth = bandwidth, VlanId = vlan } },
        };

        private static BackendInventory Observed(long? bandwidth, int? vlan) => new BackendInventory
        {
            Routers =
            {
                new VirtualRouter { Name = "a", Image = "router", State = RouterState.Running },
                new VirtualRouter { Name = "b", Image = "router", State = RouterState.Running },
            },
            Links = { new VirtualLink { Name = "a-b", From = "a", To = "b", MaximumBandwidth = bandwidth, VlanId = vlan } },
        };

        [Fact]
        public void ALinkWithoutAVlanInTheFile_KeepsTheVlanTheBackendChose()
        {
            Assert.Empty(Planner.Plan(Desired(null, null), Observed(null, 7)).Steps);
        }

        [Fact]
        public void AnExplicitVlanThatDiffers_RecreatesTheLink()
        {
            var steps = Planner.Plan(Desired(null, 9), Observed(null, 7)).Steps;
            Assert.Equal(new[] { PlanAction.RemoveLink, PlanAction.CreateLink }, steps.Select(s => s.Action));
        }

        [Theory]
        [InlineData(12_000_003L, 12_000_000L, 8L, false)]   // Hyper-V stores multiples of 8: the same limit
        [InlineData(12_000_003L, 12_000_000L, 1L, true)]    // exact backends compare exactly
        [InlineData(12_000_008L, 12_000_000L, 8L, true)]
        [InlineData(5L, 8L, 8L, false)]                    // below one step: the backend applies one step
        public void BandwidthIsComparedAtTheBackendsGranularity(long wanted, long observed, long granularity, bool change)
        {
            var steps = Planner.Plan(Desired(wanted, null), Observed(observed, 3), null, granularity).Steps;
            Assert.Equal(change, steps.Any(s => s.Action == PlanAction.SetLinkBandwidth));
            Assert.DoesNotContain(steps, s => s.Action == PlanAction.RemoveLink);
        }
    }
}
