using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.Topology;
using Xunit;

namespace VirtualNetworks.Core.Tests.Topology
{
    public class TopologyValidatorTests
    {
        private static RouterSpec R(string name, string? network = null, NetworkAddressFamily family = NetworkAddressFamily.IPv4, string host = "") =>
            new RouterSpec { Name = name, Image = "router", NetworkLabel = network, AddressFamily = family, Host = host };

        private static LinkSpec L(string from, string to, string? name = null, long? bandwidth = null, int? vlan = null) =>
            new LinkSpec { Name = name ?? from + "-" + to, From = from, To = to, MaximumBandwidth = bandwidth, VlanId = vlan };

        private static TopologySpec Spec(IEnumerable<RouterSpec> routers, IEnumerable<LinkSpec>? links = null, IEnumerable<HostSpec>? hosts = null) =>
            new TopologySpec
            {
                Routers = routers.ToList(),
                Links = (links ?? Enumerable.Empty<LinkSpec>()).ToList(),
                Hosts = (hosts ?? Enumerable.Empty<HostSpec>()).ToList(),
            };

        private static List<TopologyError> Validate(TopologySpec spec, ValidationContext? context = null) =>
            TopologyValidator.Validate(spec, context ?? new ValidationContext());

        /// <summary>Asserts that every error has the id and returns them.</summary>
        private static List<TopologyError> Only(string id, TopologySpec spec, ValidationContext? context = null)
        {
            var errors = Validate(spec, context);
            Assert.NotEmpty(errors);
            Assert.All(errors, e => Assert.Equal(id, e.ErrorId));
            return errors;
        }

        private static TopologyError One(string id, TopologySpec spec, ValidationContext? context = null) => Assert.Single(Only(id, spec, context));

        [Fact]
        public void Valid_topology_has_no_errors()
        {
            var spec = Spec(
                new[] { R("a1", "a"), R("a2", "a"), R("b1", "b", NetworkAddressFamily.IPv6), R("b2", "B", NetworkAddressFamily.IPv6), R("x") },
                new[] { L("a1", "a2", vlan: 1), L("a1", "a2", "a1-a2-2", 10_000_000, 4094), L("b1", "b2"), L("b2", "b1", "back", 0), L("x", "a1") });
            Assert.Empty(Validate(spec));
        }

        [Fact]
        public void Empty_topology_is_valid() => Assert.Empty(Validate(new TopologySpec()));

        // ---- names ---------------------------------------------------------------------------------------------------

        [Fact]
        public void Invalid_router_name()
        {
            var e = One(ErrorIds.InvalidName, Spec(new[] { new RouterSpec { Name = "r1;rm -rf /", Image = "router", SourcePath = "routers[0]" } }));
            Assert.Equal("r1;rm -rf /", e.Target);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
            Assert.Equal("routers[0]", e.JsonPath);
            Assert.Contains("router", e.Message);
        }

        [Fact]
        public void Invalid_link_and_host_names()
        {
            One(ErrorIds.InvalidName, Spec(new[] { R("a"), R("b") }, new[] { L("a", "b", "a b") }));
            var e = One(ErrorIds.InvalidName, Spec(new RouterSpec[0], hosts: new[] { new HostSpec { Name = "hv\n1" } }));
            Assert.Contains("host", e.Message);
            Assert.Contains("\\n", e.Message);
        }

        [Fact]
        public void Invalid_network_label_is_reported_once_with_the_router_as_target()
        {
            var e = One(ErrorIds.InvalidName, Spec(new[] { R("a", "net;x"), R("b", "net;x") }));
            Assert.Equal("a", e.Target);
            Assert.Contains("network", e.Message);
        }

        [Fact]
        public void Empty_network_label_means_none() => Assert.Empty(Validate(Spec(new[] { R("a", "") })));

        [Fact]
        public void Long_names_are_NameTooLong()
        {
            string name = new string('r', 64);
            Assert.Equal(name, One(ErrorIds.NameTooLong, Spec(new[] { R(name) })).Target);
        }

        [Fact]
        public void Link_end_with_invalid_name_is_InvalidName_for_the_link()
        {
            var e = One(ErrorIds.InvalidName, Spec(new[] { R("a") }, new[] { L("a", "b;reboot", "l1") }));
            Assert.Equal("l1", e.Target);
            Assert.Contains("\"to\" end", e.Message);
        }

        [Fact]
        public void Duplicate_router_names_differ_only_in_case()
        {
            var e = One(ErrorIds.DuplicateName, Spec(new[] { R("edge"), R("EDGE") }));
            Assert.Equal("EDGE", e.Target);
            Assert.Equal(ErrorKind.InvalidData, e.Kind);
            Assert.Contains("'edge'", e.Message);
        }

        [Fact]
        public void Duplicate_link_and_host_names()
        {
            Assert.Equal("L", One(ErrorIds.DuplicateName, Spec(new[] { R("a"), R("b") }, new[] { L("a", "b", "l"), L("b", "a", "L") })).Target);
            Assert.Equal("HV1", One(ErrorIds.DuplicateName,
                Spec(new RouterSpec[0], hosts: new[] { new HostSpec { Name = "hv1" }, new HostSpec { Name = "HV1" } })).Target);
        }

        [Fact]
        public void Routers_and_links_may_share_a_name() =>
            Assert.Empty(Validate(Spec(new[] { R("x"), R("y") }, new[] { L("x", "y", "x") })));

        // ---- values --------------------------------------------------------------------------------------------------

        [Theory]
        [InlineData(0)]
        [InlineData(-1)]
        [InlineData(4095)]
        [InlineData(int.MaxValue)]
        public void Vlan_outside_1_to_4094_is_InvalidVlanId(int vlan)
        {
            var e = One(ErrorIds.InvalidVlanId, Spec(new[] { R("a"), R("b") }, new[] { L("a", "b", "l", vlan: vlan) }));
            Assert.Equal("l", e.Target);
            Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        }

        [Fact]
        public void Shared_vlan_is_DuplicateVlanId()
        {
            var e = One(ErrorIds.DuplicateVlanId,
                Spec(new[] { R("a"), R("b"), R("c") }, new[] { L("a", "b", "first", vlan: 100), L("b", "c", "second", vlan: 100), L("a", "c", vlan: 101) }));
            Assert.Equal("second", e.Target);
            Assert.Contains("'first'", e.Message);
        }

        [Fact]
        public void Negative_bandwidth_is_InvalidBandwidth() =>
            Assert.Equal(ErrorKind.InvalidArgument,
                One(ErrorIds.InvalidBandwidth, Spec(new[] { R("a"), R("b") }, new[] { L("a", "b", bandwidth: -1) })).Kind);

        [Theory]
        [InlineData(1L)]
        [InlineData(7_999L)]
        [InlineData(100_000_000_001L)]
        public void Bandwidth_beyond_capabilities_is_BandwidthOutOfRange(long bandwidth)
        {
            var e = One(ErrorIds.BandwidthOutOfRange, Spec(new[] { R("a"), R("b") }, new[] { L("a", "b", "l", bandwidth) }));
            Assert.Equal(ErrorKind.LimitsExceeded, e.Kind);
            Assert.Equal("l", e.Target);
            Assert.Contains("8 kbit/s", e.Message);
        }

        [Theory]
        [InlineData(0L)]
        [InlineData(8_000L)]
        [InlineData(100_000_000_000L)]
        public void Bandwidth_at_the_limits_or_unlimited_is_fine(long bandwidth) =>
            Assert.Empty(Validate(Spec(new[] { R("a"), R("b") }, new[] { L("a", "b", bandwidth: bandwidth) })));

        [Theory]
        [InlineData(0)]
        [InlineData(31)]
        [InlineData(65_537)]
        [InlineData(-5)]
        public void Memory_outside_capabilities_is_InvalidMemory(int memory)
        {
            var r = R("a");
            r.MemoryMB = memory;
            Assert.Equal("a", One(ErrorIds.InvalidMemory, Spec(new[] { r })).Target);
        }

        [Fact]
        public void Memory_range_comes_from_the_capabilities()
        {
            var r = R("a");
            r.MemoryMB = 64;
            var context = new ValidationContext { Capabilities = new BackendCapabilities { MinMemoryMB = 128, MaxMemoryMB = 256 } };
            One(ErrorIds.InvalidMemory, Spec(new[] { r }), context);
            r.MemoryMB = 256;
            Assert.Empty(Validate(Spec(new[] { r }), context));
        }

        [Theory]
        [InlineData(0)]
        [InlineData(-1)]
        [InlineData(65)]
        public void Processor_count_outside_capabilities_is_InvalidProcessorCount(int count)
        {
            var r = R("a");
            r.ProcessorCount = count;
            One(ErrorIds.InvalidProcessorCount, Spec(new[] { r }));
        }

        [Fact]
        public void Empty_image_is_InvalidImage()
        {
            var r = R("a");
            r.Image = "";
            One(ErrorIds.InvalidImage, Spec(new[] { r }), new ValidationContext { ImageExists = (i, h) => true });
        }

        [Fact]
        public void Bad_pool_is_InvalidAddressPool()
        {
            var spec = Spec(new[] { R("a") });
            spec.AddressPools.IPv6 = "fd00::1/64";
            Assert.Equal("defaults.ipv6AddressPool", One(ErrorIds.InvalidAddressPool, spec).Target);
        }

        // ---- references ----------------------------------------------------------------------------------------------

        [Fact]
        public void Dangling_link_end_is_LinkEndpointNotFound_with_a_suggestion()
        {
            var e = One(ErrorIds.LinkEndpointNotFound, Spec(new[] { R("core1"), R("core2") }, new[] { L("core1", "core3", "l") }));
            Assert.Equal("l", e.Target);
            Assert.Equal(ErrorKind.ObjectNotFound, e.Kind);
            Assert.Contains("'core3'", e.Message);
            Assert.Contains("Did you mean", e.Message);
        }

        [Fact]
        public void Link_end_may_be_a_deployed_router()
        {
            var observed = new BackendInventory { Routers = { new VirtualRouter { Name = "deployed" } } };
            Assert.Empty(Validate(Spec(new[] { R("new") }, new[] { L("new", "DEPLOYED") }), new ValidationContext { Observed = observed }));
        }

        [Fact]
        public void Link_to_itself_is_SelfLink()
        {
            var e = One(ErrorIds.SelfLink, Spec(new[] { R("r1") }, new[] { L("r1", "R1", "loop") }));
            Assert.Equal("loop", e.Target);
        }

        [Fact]
        public void Unknown_host_is_UnknownHost()
        {
            var e = One(ErrorIds.UnknownHost, Spec(new[] { R("r1", host: "hv-nowhere") }));
            Assert.Equal("r1", e.Target);
            Assert.Equal(ErrorKind.ObjectNotFound, e.Kind);
            Assert.Contains("'hv-nowhere'", e.Message);
        }

        [Fact]
        public void Declared_and_known_hosts_are_fine()
        {
            var spec = Spec(new[] { R("r1", host: "HV1"), R("r2", host: "hv2") }, hosts: new[] { new HostSpec { Name = "hv1" } });
            Assert.Empty(Validate(spec, new ValidationContext { KnownHosts = new List<string> { "HV2" } }));
        }

        [Theory]
        [InlineData("")]
        [InlineData(".")]
        [InlineData("localhost")]
        [InlineData("LocalHost")]
        public void Local_aliases_are_always_known(string host) => Assert.Empty(Validate(Spec(new[] { R("r1", host: host) })));

        [Fact]
        public void Machine_name_is_always_known() =>
            Assert.Empty(Validate(Spec(new[] { R("r1", host: Environment.MachineName.ToLowerInvariant()) })));

        [Fact]
        public void Invalid_host_name_is_InvalidName() =>
            Assert.Equal("r1", One(ErrorIds.InvalidName, Spec(new[] { R("r1", host: "hv1;x") })).Target);

        [Fact]
        public void Missing_image_is_ImageNotFound_and_each_image_is_checked_once_per_host()
        {
            var calls = new List<(string, string)>();
            var context = new ValidationContext { ImageExists = (image, host) => { calls.Add((image, host)); return image == "router"; } };
            var routers = new[] { R("a"), R("b"), R("c", host: "localhost"), R("d"), R("e") };
            routers[3].Image = "no-such-image";
            routers[4].Image = "no-such-image";
            var errors = Only(ErrorIds.ImageNotFound, Spec(routers), context);
            Assert.Equal(new[] { "d", "e" }, errors.Select(e => e.Target));
            Assert.Contains("'no-such-image'", errors[0].Message);
            Assert.Equal(new[] { ("router", ""), ("no-such-image", "") }, calls);
        }

        [Fact]
        public void Missing_image_error_carries_the_backends_search_report_and_recommended_action()
        {
            var asked = new List<(string, string)>();
            var context = new ValidationContext
            {
                ImageExists = (image, host) => false,
                DescribeMissingImage = (image, host) =>
                {
                    asked.Add((image, host));
                    return new ImageSearchReport("searched, in order: /a (per machine), /b (state directory)", "Install it with X.");
                },
            };
            var r = R("r1");
            var error = Only(ErrorIds.ImageNotFound, Spec(new[] { r }), context).Single();
            Assert.Equal("r1", error.Target);
            Assert.Contains("the router image 'router' was not found on", error.Message);
            Assert.EndsWith("; searched, in order: /a (per machine), /b (state directory).", error.Message);
            Assert.Equal("Install it with X.", error.RecommendedAction);
            Assert.Equal("Install it with X.", error.ToException().RecommendedAction);
            Assert.Equal("Install it with X.", new TopologyValidationException(new[] { error }).RecommendedAction);
            Assert.Equal(new[] { ("router", "") }, asked);

            // Without a report (a backend that is no image catalog) the short message stays.
            context.DescribeMissingImage = (image, host) => null;
            var plain = Only(ErrorIds.ImageNotFound, Spec(new[] { R("r1") }), context).Single();
            Assert.EndsWith("was not found on the local machine.", plain.Message);
            Assert.Null(plain.RecommendedAction);
        }

        [Fact]
        public void Image_check_skips_deployed_routers_unknown_hosts_and_a_null_callback()
        {
            var r = R("r1");
            r.Image = "gone";
            var observed = new BackendInventory { Routers = { new VirtualRouter { Name = "R1" } } };
            Assert.Empty(Validate(Spec(new[] { r }), new ValidationContext { ImageExists = (i, h) => false, Observed = observed }));
            Assert.Empty(Validate(Spec(new[] { r }), new ValidationContext { ImageExists = null }));
            One(ErrorIds.UnknownHost, Spec(new[] { R("r2", host: "nowhere") }), new ValidationContext { ImageExists = (i, h) => false });
        }

        [Fact]
        public void Too_many_links_is_AdapterLimitExceeded()
        {
            var routers = new[] { R("hub"), R("s1"), R("s2"), R("s3") };
            var links = new[] { L("hub", "s1"), L("s2", "hub"), L("hub", "s3") };
            var context = new ValidationContext { Capabilities = new BackendCapabilities { MaxAdaptersPerRouter = 2 } };
            var e = One(ErrorIds.AdapterLimitExceeded, Spec(routers, links), context);
            Assert.Equal("hub", e.Target);
            Assert.Equal(ErrorKind.LimitsExceeded, e.Kind);
            Assert.Contains("3", e.Message);
            context.Capabilities.MaxAdaptersPerRouter = 3;
            Assert.Empty(Validate(Spec(routers, links), context));
        }

        // ---- virtual networks ----------------------------------------------------------------------------------------

        [Fact]
        public void Joining_differently_labelled_networks_is_NetworkIsolationViolation()
        {
            var spec = Spec(new[] { R("a1", "a"), R("b1", "b") }, new[] { L("a1", "b1", "bridge") });
            var e = One(ErrorIds.NetworkIsolationViolation, spec);
            Assert.Equal("bridge", e.Target);
            Assert.Equal(ErrorKind.InvalidOperation, e.Kind);
            Assert.Contains("'a'", e.Message);
            Assert.Contains("'b'", e.Message);
            Assert.Empty(Validate(spec, new ValidationContext { Force = true }));
        }

        [Fact]
        public void Labels_compare_case_insensitively() =>
            Assert.Empty(Validate(Spec(new[] { R("a1", "lab"), R("a2", "LAB") }, new[] { L("a1", "a2") })));

        [Fact]
        public void Unlabelled_routers_take_the_label_of_their_component()
        {
            // a1 - x joins {a} with {}: fine, x is now in 'a'. x - b1 then joins 'a' with 'b'.
            var spec = Spec(new[] { R("a1", "a"), R("x"), R("b1", "b"), R("b2", "b") },
                new[] { L("a1", "x"), L("x", "b1"), L("b1", "b2") });
            Assert.Equal("x-b1", One(ErrorIds.NetworkIsolationViolation, spec).Target);
        }

        [Fact]
        public void A_rejected_link_is_not_joined_so_later_links_are_judged_fairly()
        {
            // Both bridges are violations; neither makes the other look legitimate, and b's own link stays fine.
            var spec = Spec(new[] { R("a1", "a"), R("a2", "a"), R("b1", "b"), R("b2", "b") },
                new[] { L("a1", "a2"), L("a1", "b1", "bridge1"), L("b1", "b2"), L("a2", "b2", "bridge2") });
            Assert.Equal(new[] { "bridge1", "bridge2" }, Only(ErrorIds.NetworkIsolationViolation, spec).Select(e => e.Target));
        }

        [Fact]
        public void Deployed_links_are_joined_unconditionally()
        {
            // The a/b bridge already exists (someone forced it): it is not reported again, and its components are merged,
            // so a second link between the same routers is fine.
            var spec = Spec(new[] { R("a1", "a"), R("b1", "b") }, new[] { L("a1", "b1", "old-bridge"), L("b1", "a1", "second") });
            var observed = new BackendInventory { Links = { new VirtualLink { Name = "OLD-BRIDGE", From = "a1", To = "b1" } } };
            Assert.Empty(Validate(spec, new ValidationContext { Observed = observed }));
        }

        [Fact]
        public void Growing_a_merged_network_needs_force_again()
        {
            // After the forced a+b merge, a new 'b' router joins a component labelled {a, b}: the label sets differ.
            var spec = Spec(new[] { R("a1", "a"), R("b1", "b"), R("b2", "b") }, new[] { L("a1", "b1", "old-bridge"), L("b1", "b2") });
            var observed = new BackendInventory { Links = { new VirtualLink { Name = "old-bridge", From = "a1", To = "b1" } } };
            Assert.Equal("b1-b2", One(ErrorIds.NetworkIsolationViolation, spec, new ValidationContext { Observed = observed }).Target);
            Assert.Empty(Validate(spec, new ValidationContext { Observed = observed, Force = true }));
        }

        [Fact]
        public void Deployed_routers_bring_their_labels()
        {
            var observed = new BackendInventory { Routers = { new VirtualRouter { Name = "old", NetworkLabel = "b" } } };
            var spec = Spec(new[] { R("new", "a") }, new[] { L("new", "old") });
            One(ErrorIds.NetworkIsolationViolation, spec, new ValidationContext { Observed = observed });
        }

        [Fact]
        public void Mixed_address_families_are_AddressFamilyConflict()
        {
            var spec = Spec(new[] { R("r1"), R("r2"), R("r6", family: NetworkAddressFamily.IPv6) }, new[] { L("r1", "r2"), L("r2", "r6", "mixed") });
            var e = One(ErrorIds.AddressFamilyConflict, spec);
            Assert.Equal("r6", e.Target);
            Assert.Equal(ErrorKind.InvalidData, e.Kind);
            Assert.Contains("'mixed'", e.Message);
            Assert.Contains("'r1', 'r2'", e.Message);
        }

        [Fact]
        public void Separate_networks_may_use_different_families() =>
            Assert.Empty(Validate(Spec(new[] { R("r4"), R("r6", family: NetworkAddressFamily.IPv6) })));

        [Fact]
        public void Forced_join_of_differing_families_is_still_a_conflict()
        {
            var spec = Spec(new[] { R("a1", "a"), R("b1", "b", NetworkAddressFamily.IPv6) }, new[] { L("a1", "b1") });
            One(ErrorIds.NetworkIsolationViolation, spec);                               // not joined: no family conflict on top
            One(ErrorIds.AddressFamilyConflict, spec, new ValidationContext { Force = true });
        }

        // ---- robustness ----------------------------------------------------------------------------------------------

        [Fact]
        public void Collects_all_errors_at_once()
        {
            var bad = R("bad name");
            bad.MemoryMB = 0;
            var spec = Spec(new[] { bad, R("ok"), R("OK") }, new[] { L("ok", "ghost", vlan: 0) });
            var ids = Validate(spec).Select(e => e.ErrorId).ToList();
            Assert.Contains(ErrorIds.InvalidName, ids);
            Assert.Contains(ErrorIds.InvalidMemory, ids);
            Assert.Contains(ErrorIds.DuplicateName, ids);
            Assert.Contains(ErrorIds.LinkEndpointNotFound, ids);
            Assert.Contains(ErrorIds.InvalidVlanId, ids);
        }

        [Fact]
        public void Null_members_do_not_throw()
        {
            var spec = new TopologySpec
            {
                Routers = new List<RouterSpec> { null!, new RouterSpec { Name = null!, Image = null!, Host = null! } },
                Links = new List<LinkSpec> { null!, new LinkSpec { Name = null!, From = null!, To = null! } },
                Hosts = new List<HostSpec> { null!, new HostSpec { Name = null! } },
                AddressPools = null!,
            };
            var context = new ValidationContext { Capabilities = null!, KnownHosts = null!, ImageExists = (i, h) => true };
            Assert.NotEmpty(TopologyValidator.Validate(spec, context));
            Assert.NotEmpty(TopologyValidator.Validate(spec, null!));
        }

        [Fact]
        public void Null_spec_is_a_programming_error() =>
            Assert.Throws<ArgumentNullException>(() => TopologyValidator.Validate(null!, new ValidationContext()));
    }
}
