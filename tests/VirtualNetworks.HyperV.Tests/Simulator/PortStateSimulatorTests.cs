using System.Linq;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using Xunit;
using static VirtualNetworks.HyperV.Tests.Simulator.Sim;

namespace VirtualNetworks.HyperV.Tests.Simulator
{
    /// <summary>
    /// What the simulator models of a port's state (docs/hyperv-backend.md §13, README "Port state"): the connection's
    /// EnabledState (Microsoft: a Disabled (3) allocation request "is not processed") and port ACLs
    /// (Msvm_EthernetSwitchPortAclSettingData, a data-only class of the real schema, given a default instance here).
    /// </summary>
    public class PortStateSimulatorTests
    {
        private static (HyperVSimulator Host, ICimGateway Gw, CimReference Conn) Port()
        {
            var (host, gw) = New();
            var sw = gw.Switch("lan1");
            var vm = gw.DefineVm("r1");
            var nic = gw.Nic(vm, "eth0", "00155D0000AA");
            return (host, gw, gw.Connect(vm, nic, sw));
        }

        private static CimObject Acl(ICimGateway gw, byte direction, byte action = 2, byte type = 1, byte applicability = 2, string address = "FFFFFFFFFFFF", byte prefix = 0) =>
            gw.Feature("Msvm_EthernetSwitchPortAclSettingData")
                .Set("Name", CimDataType.String, false, "t")
                .Set("Direction", CimDataType.UInt8, false, direction)
                .Set("Action", CimDataType.UInt8, false, action)
                .Set("AclType", CimDataType.UInt8, false, type)
                .Set("Applicability", CimDataType.UInt8, false, applicability)
                .Set("RemoteAddress", CimDataType.String, false, address)
                .Set("RemoteAddressPrefixLength", CimDataType.UInt8, false, prefix);

        [Fact]
        public void AclDefault_IsServedByTheCapabilitiesRoute_WithTheDocumentedFeatureId()
        {
            var (_, gw) = New();
            var caps = gw.Q("SELECT * FROM Msvm_EthernetSwitchFeatureCapabilities WHERE FeatureId = '998BEF4A-5D55-492A-9C43-8B2F5EAE9F2B'").Single();
            var def = gw.GetAssociated(caps.ToReference(), "Msvm_FeatureSettingsDefineCapabilities", null, "GroupComponent", "PartComponent", None).Single();
            Assert.Equal("Msvm_EthernetSwitchPortAclSettingData", def.ClassName);
            Assert.Equal(0, (int)(def.GetUInt32("Action") ?? 99));
        }

        [Fact]
        public void ManyAclsPerPort_DenyAllBothWays_DropsEveryFrame_ButTheCarrierStaysUp()
        {
            var (host, gw, conn) = Port();
            gw.Add(conn, "AddFeatureSettings", Acl(gw, 1));
            Assert.True(host.Guest("r1").Nics.Single().DropsAll(1));
            Assert.True(host.Guest("r1").Nics.Single().Forwards == false);
            gw.Add(conn, "AddFeatureSettings", Acl(gw, 2), Acl(gw, 2, action: 1, type: 2, address: "10.0.0.0", prefix: 8));
            var nic = host.Guest("r1").Nics.Single();
            Assert.Equal(3, nic.Acls.Count);
            Assert.True(nic.Connected && nic.DropsAll(1) && nic.DropsAll(2));
            // A MAC ACL with a real prefix matches one address, not every frame.
            var (h2, g2, c2) = Port();
            g2.Add(c2, "AddFeatureSettings", Acl(g2, 1, address: "00155D000001", prefix: 48));
            Assert.True(h2.Guest("r1").Nics.Single().Forwards);
        }

        [Theory]
        [InlineData(0, 2, 1, 2, "FFFFFFFFFFFF", 0)]   // Direction Unknown
        [InlineData(3, 2, 1, 2, "FFFFFFFFFFFF", 0)]   // Direction out of the map
        [InlineData(1, 0, 1, 2, "FFFFFFFFFFFF", 0)]   // Action Unknown
        [InlineData(1, 3, 1, 2, "FFFFFFFFFFFF", 0)]   // Meter on a MAC ACL
        [InlineData(1, 2, 4, 2, "FFFFFFFFFFFF", 0)]   // AclType out of the map
        [InlineData(1, 2, 1, 0, "FFFFFFFFFFFF", 0)]   // Applicability Unknown
        [InlineData(1, 2, 1, 2, "FF-FF-FF-FF-FF-FF", 0)] // not Hyper-V's 12-digit MAC form
        [InlineData(1, 2, 1, 2, "FFFFFFFFFFFF", 49)]  // prefix longer than a MAC
        public void BadAcls_AreRefusedWithInvalidParameter(byte direction, byte action, byte type, byte applicability, string address, byte prefix)
        {
            var (host, gw, conn) = Port();
            var r = gw.Call(gw.Service("Msvm_VirtualSystemManagementService"), "AddFeatureSettings", CimMethodParameter.Reference("AffectedConfiguration", conn),
                CimMethodParameter.Strings("FeatureSettings", new[] { CimXml.Write(Acl(gw, direction, action, type, applicability, address, prefix)) }));
            Assert.Equal(4u, r.ReturnValue);
            Assert.Empty(host.Guest("r1").Nics.Single().Acls);
        }

        [Fact]
        public void DisabledConnection_KeepsSwitchAndFeatures_ButIsNotConnected_AndEnablingReconnects()
        {
            var (host, gw, conn) = Port();
            gw.Add(conn, "AddFeatureSettings", gw.Vlan(10));
            var svc = gw.Service("Msvm_VirtualSystemManagementService");
            var disabled = gw.GetInstance(conn, None)!.Set("EnabledState", CimDataType.UInt16, false, (ushort)3);
            gw.Wait(svc, "ModifyResourceSettings", CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(disabled) }));
            var nic = host.Guest("r1").Nics.Single();
            Assert.False(nic.Connected);
            Assert.Equal(("lan1", (ushort?)10), (nic.SwitchName, nic.AccessVlanId));
            Assert.Equal((ushort)3, gw.GetInstance(conn, None)!.GetUInt16("EnabledState"));
            Assert.Equal(4u, gw.Call(svc, "ModifyResourceSettings", CimMethodParameter.Strings("ResourceSettings",
                new[] { CimXml.Write(disabled.Clone().Set("EnabledState", CimDataType.UInt16, false, (ushort)4)) })).ReturnValue);
            gw.Wait(svc, "ModifyResourceSettings", CimMethodParameter.Strings("ResourceSettings",
                new[] { CimXml.Write(disabled.Clone().Set("EnabledState", CimDataType.UInt16, false, (ushort)2)) }));
            Assert.True(host.Guest("r1").Nics.Single().Forwards);
        }
    }
}
