using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.Backends;
using VirtualNetworks.HyperV;
using VirtualNetworks.HyperV.Cim;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Backend
{
    /// <summary>Simulator-independent checks of the backend's naming, KVP format, options and error translation.</summary>
    public class BackendUnitTests
    {
        private static RouterConfiguration SampleConfig() => new RouterConfiguration
        {
            RouterName = "r1",
            AddressFamily = NetworkAddressFamily.IPv4,
            Interfaces =
            {
                new InterfaceConfiguration { LinkName = "l1", Address = "10.200.0.0/31", PeerAddress = "10.200.0.1", PeerRouter = "r2" },
                new InterfaceConfiguration { LinkName = "l2", Address = "10.200.0.2/31", PeerAddress = "10.200.0.3", PeerRouter = "r3" },
            },
            Routes =
            {
                new RouteConfiguration { Destination = "10.1.0.0/16", NextHop = "10.200.0.1", LinkName = "l1" },
                new RouteConfiguration { Destination = "0.0.0.0/0", NextHop = "10.200.0.3", LinkName = "l2" },
            },
        };

        private static readonly Dictionary<string, string> Macs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
        {
            ["l1"] = HyperVNames.Mac("l1", "r1", "r2", true),
            ["l2"] = HyperVNames.Mac("l2", "r3", "r1", false),
        };

        [Fact]
        public void ConfigurationTextIsTheGuestContractAndRoundTrips()
        {
            var cfg = SampleConfig();
            var text = KvpConfig.Render(cfg, Macs);
            Assert.Contains("name r1\n", text);
            Assert.Contains("if " + HyperVNames.GuestMac(Macs["l1"]) + " 10.200.0.0/31\n", text);
            Assert.Contains("route default via 10.200.0.3\n", text);
            Assert.Contains("route 10.1.0.0/16 via 10.200.0.1\n", text);
            var back = KvpConfig.Parse(text);
            Assert.NotNull(back);
            Assert.Equal(cfg.ToCanonicalString(), back!.ToCanonicalString());
        }

        [Fact]
        public void ConfigurationItemsChunkAndReassembleWithHash()
        {
            var cfg = SampleConfig();
            for (int i = 0; i < 60; i++)
                cfg.Routes.Add(new RouteConfiguration { Destination = $"10.{i}.0.0/16", NextHop = "10.200.0.1", LinkName = "l1" });
            var text = KvpConfig.Render(cfg, Macs);
            var items = KvpConfig.Items(text);
            Assert.True(int.Parse(items[KvpConfig.CountKey]) > 1);
            Assert.All(items.Values, v => Assert.True(v.Length <= 1024));
            Assert.Equal(text, KvpConfig.Assemble(items));
            items["vn.config.0"] = items["vn.config.0"] + "x";
            Assert.Null(KvpConfig.Assemble(items));
        }

        [Fact]
        public void MacsAreDeterministicInTheMicrosoftOuiAndEndsDiffer()
        {
            var a = HyperVNames.Mac("l1", "r1", "r2", true);
            var b = HyperVNames.Mac("l1", "r1", "r2", false);
            Assert.Equal(a, HyperVNames.Mac("L1", "R1", "R2", true));
            Assert.StartsWith("00155D", a);
            Assert.Equal(12, a.Length);
            Assert.NotEqual(a, b);
            Assert.Equal("00:15:5d:", HyperVNames.GuestMac(a).Substring(0, 9));
        }

        [Fact]
        public void RouterNotesRoundTripAndForeignNotesAreIgnored()
        {
            var spec = new RouterSpec { Name = "r1", Image = "router", NetworkLabel = null, AddressFamily = NetworkAddressFamily.IPv6 };
            var notes = HyperVNames.RouterNotes(spec);
            Assert.Equal(new[] { "virtualnetworks:v1\nkind=router\nrouter=r1\nimage=router\nlabel=\nfamily=IPv6" }, notes);
            // The older form, one line per element, reads the same; so does a host's CRLF.
            Assert.Equal("r1", HyperVNames.ParseRouter(new[] { "virtualnetworks:v1", "kind=router", "router=r1", "image=router", "label=", "family=IPv6" })!.Router);
            Assert.Equal("r1", HyperVNames.ParseRouter(new[] { notes[0].Replace("\n", "\r\n") })!.Router);
            var m = HyperVNames.ParseRouter(notes);
            Assert.NotNull(m);
            Assert.Equal("r1", m!.Router);
            Assert.Null(m.Label);
            Assert.Equal(NetworkAddressFamily.IPv6, m.Family);
            Assert.Null(HyperVNames.ParseRouter(new[] { "my own VM", "router=r1" }));
            Assert.Null(HyperVNames.ParseRouter(Array.Empty<string>()));
            Assert.True(HyperVNames.IsFabric(HyperVNames.FabricNotes()));
            Assert.Equal("l1", HyperVNames.LinkOfNic("vn:l1"));
            Assert.Null(HyperVNames.LinkOfNic("Network Adapter"));
        }

        [Theory]
        [InlineData(CimErrorCode.InvalidNamespace, HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled)]
        [InlineData(CimErrorCode.InvalidClass, HyperVErrorIds.NotInstalled, ErrorKind.NotInstalled)]
        [InlineData(CimErrorCode.AccessDenied, HyperVErrorIds.AccessDenied, ErrorKind.PermissionDenied)]
        [InlineData(CimErrorCode.NotFound, HyperVErrorIds.ObjectNotFound, ErrorKind.ObjectNotFound)]
        [InlineData(CimErrorCode.ConnectionFailed, HyperVErrorIds.ConnectionFailed, ErrorKind.ConnectionError)]
        [InlineData(CimErrorCode.Failed, HyperVErrorIds.QueryFailed, ErrorKind.InvalidResult)]
        public void GatewayFailuresTranslateWithIdKindStepAndInner(CimErrorCode code, string id, ErrorKind kind)
        {
            var inner = new CimGatewayException(code, "HV01", "Query Msvm_ComputerSystem", "boom");
            var ex = HyperVErrors.Translate(inner, "Creating router 'r2'", "DefineSystem", "HV01", "r2");
            Assert.Equal(id, ex.ErrorId);
            Assert.Equal(kind, ex.Kind);
            Assert.Equal("r2", ex.TargetName);
            Assert.StartsWith("Creating router 'r2': DefineSystem failed on host HV01: ", ex.Message);
            Assert.Same(inner, ex.InnerException);
        }

        [Fact]
        public void MethodAndJobFailuresTranslate()
        {
            var target = CimReference.ByInstanceId("Msvm_VirtualSystemManagementService", "x");
            var job = new CimMethodException("HV01", target, "AddResourceSettings", CimJobs.JobStarted, "job failed", 32768, "desc", new[] { "The disk is in use." });
            var ex = HyperVErrors.Translate(job, "Creating router 'r2'", "AddResourceSettings (attach disk)", "HV01", "r2");
            Assert.Equal(HyperVErrorIds.JobFailed, ex.ErrorId);
            Assert.Contains("Creating router 'r2': AddResourceSettings (attach disk) failed on host HV01", ex.Message);
            Assert.Contains("The disk is in use.", ex.Message);
            var denied = new CimMethodException("HV01", target, "RequestStateChange", 32769, "denied");
            Assert.Equal(ErrorKind.PermissionDenied, HyperVErrors.Translate(denied, "Starting router 'r1'", "RequestStateChange", "HV01", "r1").Kind);
            var timeout = new CimMethodException("HV01", target, "DefineSystem", CimJobs.JobStarted, "slow", timedOut: true);
            Assert.Equal(HyperVErrorIds.JobTimeout, HyperVErrors.Translate(timeout, "x", "y", "HV01", null).ErrorId);
        }

        [Theory]
        [InlineData(2, RouterState.Running)]
        [InlineData(3, RouterState.Off)]
        [InlineData(4, RouterState.Stopping)]
        [InlineData(6, RouterState.Saved)]
        [InlineData(9, RouterState.Paused)]
        [InlineData(10, RouterState.Starting)]
        [InlineData(32768, RouterState.Paused)]
        [InlineData(32769, RouterState.Saved)]
        [InlineData(32773, RouterState.Stopping)]
        [InlineData(32776, RouterState.Paused)]
        [InlineData(32777, RouterState.Starting)]
        [InlineData(0, RouterState.Unknown)]
        public void EnabledStateMapsToRouterState(int state, RouterState expected) =>
            Assert.Equal(expected, HyperVBackend.MapState((ushort)state));

        [Fact]
        public void OptionsAreReadByNameAndBadDurationsRejected()
        {
            var o = HyperVBackendOptions.From(new Dictionary<string, object?>(StringComparer.OrdinalIgnoreCase)
            {
                ["SwitchName"] = "Lab", ["ImagePath"] = @"C:\Images", ["JobTimeout"] = 30, ["ProbeTimeout"] = "00:00:05",
            });
            Assert.Equal("Lab", o.SwitchName);
            Assert.Equal(@"C:\Images", o.ImagePath);
            Assert.Equal(TimeSpan.FromSeconds(30), o.JobTimeout);
            Assert.Equal(TimeSpan.FromSeconds(5), o.ProbeTimeout);
            var ex = Assert.Throws<VirtualNetworksException>(() => HyperVBackendOptions.From(new Dictionary<string, object?> { ["JobTimeout"] = "soon" }));
            Assert.Equal(HyperVErrorIds.InvalidOption, ex.ErrorId);
        }

        [Fact]
        public void SecureBootTemplate_DefaultsToTheMicrosoftUefiCa_OffTurnsItOff_AnythingElseIsRefused()
        {
            Assert.Equal("272e7447-90a4-4563-a4b9-8e4ab00526ce", HyperVBackendOptions.From(null).SecureBootTemplateId);
            Assert.Null(HyperVBackendOptions.From(new Dictionary<string, object?> { ["SecureBootTemplate"] = "off" }).SecureBootTemplateId);
            Assert.Equal("1734c6e8-3154-4dda-ba5f-a874cc483422",
                HyperVBackendOptions.From(new Dictionary<string, object?> { ["SecureBootTemplate"] = "1734C6E8-3154-4DDA-BA5F-A874CC483422" }).SecureBootTemplateId);
            var ex = Assert.Throws<VirtualNetworksException>(() => HyperVBackendOptions.From(new Dictionary<string, object?> { ["SecureBootTemplate"] = "Microsoft Windows" }));
            Assert.Equal(HyperVErrorIds.InvalidOption, ex.ErrorId);
            Assert.Contains("SecureBootTemplate", ex.Message);
        }

        [Fact]
        public void BandwidthRoundsDownToMultiplesOfEight()
        {
            Assert.Equal(1_000_000, HyperVBackend.EffectiveBandwidth(1_000_007));
            Assert.Equal(8, HyperVBackend.EffectiveBandwidth(3));
        }

        [Fact]
        public void ProbeAnswersParse()
        {
            var ok = KvpConfig.ParseProbeAnswer("code 0 rtt_ms 1.4");
            Assert.True(ok.Reachable);
            Assert.Equal(1.4, ok.RoundTripMilliseconds);
            Assert.False(KvpConfig.ParseProbeAnswer("code 1").Reachable);
        }

        [Fact]
        public void ProductionBackendWhereMiIsUnusable_SaysBackendNotAvailable_OnFirstContact()
        {
            // The test process carries no Microsoft.Management.Infrastructure runtime (the reference is compile-time only),
            // which is the situation of a host without MI: the first CIM contact must become a clear error, not a crash.
            using var backend = new HyperVBackend(new BackendRequest());
            var ex = Assert.Throws<VirtualNetworksException>(() => backend.GetInventory(System.Threading.CancellationToken.None));
            Assert.Equal(ErrorIds.BackendNotAvailable, ex.ErrorId);
            Assert.Contains("Microsoft.Management.Infrastructure", ex.Message);
        }

        [Fact]
        public void CapabilitiesIncludeLiveAndColdMigration()
        {
            using var b = new HyperVBackend(new BackendRequest(), _ => throw new InvalidOperationException("no host needed"));
            Assert.True(b.Capabilities.SupportsLiveMigration);
            Assert.True(b.Capabilities.SupportsColdMigration);
            Assert.Equal("HyperV", b.Kind);
            Assert.True(b.Capabilities.SupportsVlanTagging);
            Assert.Equal(8, b.Capabilities.MaxAdaptersPerRouter);
        }
    }
}
