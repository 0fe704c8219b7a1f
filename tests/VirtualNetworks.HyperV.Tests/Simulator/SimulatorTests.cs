using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading.Tasks;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using Xunit;
using static VirtualNetworks.HyperV.Tests.Simulator.Sim;

namespace VirtualNetworks.HyperV.Tests.Simulator
{
    public class SimulatorSchemaTests
    {
        [Fact]
        public void Unknown_class_property_method_and_bad_syntax_are_protocol_errors()
        {
            var (_, gw) = New();
            Assert.Equal(CimErrorCode.InvalidClass, Assert.Throws<CimGatewayException>(() => gw.Q("SELECT * FROM Msvm_Nope")).Code);
            Assert.Equal(CimErrorCode.InvalidQuery, Assert.Throws<CimGatewayException>(() => gw.Q("SELECT * FROM Msvm_ComputerSystem WHERE Bogus=1")).Code);
            Assert.Equal(CimErrorCode.InvalidQuery, Assert.Throws<CimGatewayException>(() => gw.Q("SELECT Bogus FROM Msvm_ComputerSystem")).Code);
            Assert.Equal(CimErrorCode.InvalidQuery, Assert.Throws<CimGatewayException>(() => gw.Q("SELECT * FROM Msvm_ComputerSystem WHERE Name = ")).Code);
            Assert.Equal(CimErrorCode.InvalidQuery, Assert.Throws<CimGatewayException>(() => gw.Q("SELECT * FROM Msvm_ComputerSystem WHERE OperationalStatus = 2")).Code);
            Assert.Equal(CimErrorCode.InvalidNamespace, Assert.Throws<CimGatewayException>(() => gw.Query(@"root\virtualization", "SELECT * FROM Msvm_ComputerSystem", None)).Code);
            var vsms = gw.Service("Msvm_VirtualSystemManagementService");
            Assert.Equal(CimErrorCode.MethodNotFound, Assert.Throws<CimGatewayException>(() => gw.Call(vsms, "DefineSystemX")).Code);
            Assert.Equal(CimErrorCode.InvalidParameter, Assert.Throws<CimGatewayException>(() => gw.Call(vsms, "DefineSystem")).Code);
            Assert.Equal(CimErrorCode.InvalidParameter, Assert.Throws<CimGatewayException>(() =>
                gw.Call(vsms, "DefineSystem", CimMethodParameter.String("SystemSettings", "<INSTANCE CLASSNAME=\"Msvm_VirtualSystemSettingData\"/>"), CimMethodParameter.String("Bogus", "x"))).Code);
            var asInstance = new CimMethodParameter("SystemSettings", CimDataType.Instance, false, new CimObject("Msvm_VirtualSystemSettingData"));
            Assert.Equal(CimErrorCode.InvalidParameter, Assert.Throws<CimGatewayException>(() => gw.Call(vsms, "DefineSystem", asInstance)).Code);
            Assert.Empty(gw.Q("SELECT * FROM Msvm_ComputerSystem WHERE Caption='Virtual Machine'"));
        }

        [Theory]
        [InlineData("not xml")]
        [InlineData("<INSTANCE CLASSNAME=\"Msvm_Bogus\"/>")]
        [InlineData("<INSTANCE CLASSNAME=\"Msvm_MemorySettingData\"/>")]
        [InlineData("<INSTANCE CLASSNAME=\"Msvm_VirtualSystemSettingData\"><PROPERTY NAME=\"Colour\" TYPE=\"string\"><VALUE>x</VALUE></PROPERTY></INSTANCE>")]
        [InlineData("<INSTANCE CLASSNAME=\"Msvm_VirtualSystemSettingData\"><PROPERTY NAME=\"ElementName\" TYPE=\"uint16\"><VALUE>1</VALUE></PROPERTY></INSTANCE>")]
        [InlineData("<INSTANCE CLASSNAME=\"Msvm_VirtualSystemSettingData\"><PROPERTY NAME=\"Notes\" TYPE=\"string\"><VALUE>x</VALUE></PROPERTY></INSTANCE>")]
        public void Bad_embedded_instances_answer_invalid_parameter_and_change_nothing(string text)
        {
            var (host, gw) = New();
            var r = gw.Call(gw.Service("Msvm_VirtualSystemManagementService"), "DefineSystem", CimMethodParameter.String("SystemSettings", text));
            Assert.Equal(4u, r.ReturnValue);
            Assert.Empty(host.Instances("Msvm_VirtualSystemSettingData"));
        }

        [Fact]
        public void Dangling_or_malformed_object_paths_in_settings_are_refused()
        {
            var (host, gw) = New();
            var vm = gw.DefineVm("r1");
            var vssd = gw.Vssd(vm).ToReference();
            var drive = gw.Template("Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Synthetic Disk Drive");
            foreach (var parent in new[] { "garbage", @"\\HV01\root\virtualization\v2:Msvm_ResourceAllocationSettingData.InstanceID=""Microsoft:NOPE""" })
            {
                drive.Set("Parent", parent);
                var r = gw.Call(gw.Service("Msvm_VirtualSystemManagementService"), "AddResourceSettings",
                    CimMethodParameter.Reference("AffectedConfiguration", vssd), CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(drive) }));
                Assert.Equal(4u, r.ReturnValue);
            }
            Assert.DoesNotContain(host.Instances("Msvm_ResourceAllocationSettingData"), o => o.GetString("ResourceSubType")!.EndsWith("Disk Drive") && !o.GetString("InstanceID")!.Contains("Definition"));
        }

        [Fact]
        public void Schema_is_data_with_documentation_urls_and_inheritance()
        {
            var c = HyperVSchema.Class("Msvm_EthernetSwitchPortVlanSettingData");
            Assert.Equal("https://learn.microsoft.com/en-us/windows/win32/hyperv_v2/msvm-ethernetswitchportvlansettingdata", c.DocumentationUrl);
            Assert.True(c.IsA("Msvm_EthernetSwitchPortFeatureSettingData"));
            Assert.True(c.Property("InstanceID")!.IsKey);
            Assert.Equal(CimDataType.UInt16, c.Property("AccessVlanId")!.Type);
            var m = HyperVSchema.Class("Msvm_VirtualSystemManagementService").Method("AddResourceSettings")!;
            Assert.True(m.Parameter("ResourceSettings")!.IsArray);
            Assert.Equal("Invalid Parameter", m.ReturnCodes[4]);
            Assert.NotNull(HyperVSchema.Class("Msvm_StorageJob").Method("GetErrorEx"));
        }
    }

    public class SimulatorWqlTests
    {
        [Fact]
        public void Polymorphic_queries_escapes_operators_and_projection()
        {
            var (_, gw) = New();
            var all = gw.Q("SELECT * FROM CIM_ResourceAllocationSettingData WHERE InstanceID LIKE '%\\\\Default'");
            Assert.Contains(all, o => o.ClassName == "Msvm_ProcessorSettingData");
            Assert.Contains(all, o => o.ClassName == "Msvm_EthernetPortAllocationSettingData");
            var features = gw.Q("SELECT * FROM Msvm_EthernetSwitchPortFeatureSettingData");
            Assert.Contains(features, o => o.ClassName == "Msvm_EthernetSwitchPortVlanSettingData");
            Assert.Single(gw.Q("SELECT * FROM Msvm_MemorySettingData WHERE InstanceID = 'Microsoft:Definition\\\\4764334D-E001-4176-82EE-5594EC9B530E\\\\Default'"));
            Assert.Empty(gw.Q("SELECT * FROM Msvm_MemorySettingData WHERE InstanceID = 'Microsoft:Definition\\4764334D-E001-4176-82EE-5594EC9B530E\\Default'"));
            Assert.Equal(2, gw.Q("SELECT * FROM Msvm_ResourceAllocationSettingData WHERE (ResourceType = 5 OR ResourceType=6) AND InstanceID LIKE \"%Default\"").Count);
            Assert.Equal(4, gw.Q("SELECT * FROM Msvm_MemorySettingData WHERE NOT ResourceType <> 4").Count);
            Assert.Equal(2, gw.Q("SELECT * FROM Msvm_MemorySettingData WHERE InstanceID LIKE '%M_[ax]imum' OR InstanceID LIKE '%Increment' OR InstanceID LIKE '%Default' AND ElementName IS NULL").Count);
            var proj = gw.Q("SELECT ElementName FROM Msvm_ComputerSystem").Single();
            Assert.Equal(new[] { "CreationClassName", "Name", "ElementName" }.OrderBy(x => x), proj.Properties.Select(p => p.Name).OrderBy(x => x));
            Assert.Single(gw.Q("SELECT * FROM Msvm_VirtualSystemManagementService WHERE Started = TRUE AND EnabledState >= 2 AND EnabledState < 3"));
        }

        [Fact]
        public void Every_template_subtype_has_a_default()
        {
            var (_, gw) = New();
            foreach (var (cls, sub) in new[]
            {
                ("Msvm_ProcessorSettingData", "Microsoft:Hyper-V:Processor"), ("Msvm_MemorySettingData", "Microsoft:Hyper-V:Memory"),
                ("Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Emulated IDE Controller"), ("Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Synthetic SCSI Controller"),
                ("Msvm_SyntheticEthernetPortSettingData", "Microsoft:Hyper-V:Synthetic Ethernet Port"), ("Msvm_EmulatedEthernetPortSettingData", "Microsoft:Hyper-V:Emulated Ethernet Port"),
                ("Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Synthetic DVD Drive"), ("Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Synthetic Disk Drive"),
                ("Msvm_StorageAllocationSettingData", "Microsoft:Hyper-V:Virtual Hard Disk"), ("Msvm_StorageAllocationSettingData", "Microsoft:Hyper-V:Virtual CD/DVD Disk"),
                ("Msvm_EthernetPortAllocationSettingData", "Microsoft:Hyper-V:Ethernet Connection"),
            })
                Assert.StartsWith(@"Microsoft:Definition\", gw.Template(cls, sub).GetString("InstanceID"));
            Assert.EndsWith(@"\Default", gw.Feature("Msvm_EthernetSwitchPortVlanSettingData").GetString("InstanceID"));
            Assert.EndsWith(@"\Default", gw.Feature("Msvm_EthernetSwitchPortBandwidthSettingData").GetString("InstanceID"));
        }
    }

    public class SimulatorVmTests
    {
        [Fact]
        public void DefineSystem_creates_vm_settings_and_default_devices()
        {
            var (host, gw) = New();
            var vm = gw.DefineVm("r1");
            var cs = gw.GetInstance(vm, None)!;
            Assert.Equal("r1", cs.GetString("ElementName"));
            Assert.Equal((ushort)3, cs.GetUInt16("EnabledState"));
            Assert.Equal("Virtual Machine", cs.GetString("Caption"));
            string guid = cs.GetString("Name")!;
            Assert.True(Guid.TryParse(guid, out _));
            var vssd = gw.Vssd(vm);
            Assert.Equal("Microsoft:" + guid, vssd.GetString("InstanceID"));
            Assert.Equal(guid, vssd.GetString("VirtualSystemIdentifier"));
            Assert.Equal(guid, vssd.GetString("ConfigurationID"));
            Assert.Equal("Microsoft:Hyper-V:System:Realized", vssd.GetString("VirtualSystemType"));
            var devices = gw.GetAssociated(vssd.ToReference(), "Msvm_VirtualSystemSettingDataComponent", null, null, null, None);
            Assert.Contains(devices, d => d.ClassName == "Msvm_ProcessorSettingData");
            Assert.Contains(devices, d => d.ClassName == "Msvm_MemorySettingData");
            Assert.DoesNotContain(devices, d => d.GetString("ResourceSubType") == "Microsoft:Hyper-V:Synthetic SCSI Controller");
            Assert.All(devices, d => Assert.StartsWith("Microsoft:" + guid + "\\", d.GetString("InstanceID")));
            Assert.Equal(devices.Count, gw.Q($"SELECT * FROM CIM_ResourceAllocationSettingData WHERE InstanceID LIKE 'Microsoft:{guid}\\\\%'").Count);
            Assert.Single(gw.Q($"SELECT * FROM Msvm_ShutdownComponent WHERE SystemName = '{guid}'"));
            Assert.Single(gw.GetAssociated(vm, "Msvm_SystemDevice", "Msvm_KvpExchangeComponent", null, null, None));
            Assert.StartsWith(@"\\HV01\root\virtualization\v2:Msvm_ComputerSystem.", vm.ToPath());
            var gen1 = gw.DefineVm("old", gen2: false);
            Assert.Equal(2, gw.Q($"SELECT * FROM Msvm_ResourceAllocationSettingData WHERE ResourceType = 5 AND InstanceID LIKE 'Microsoft:{gw.GetInstance(gen1, None)!.GetString("Name")}%'").Count);
        }

        [Fact]
        public void Nic_connection_and_features_flow_with_vlan_modify_refusal()
        {
            var (host, gw) = New();
            var sw = gw.Switch("lan1");
            var vm = gw.DefineVm("r1");
            var nic = gw.Nic(vm, "eth0", "00155D0000AA");
            var conn = gw.Connect(vm, nic, sw);
            var nicObj = gw.GetInstance(nic, None)!;
            Assert.Equal("00155D0000AA", nicObj.GetString("Address"));
            var connObj = gw.GetInstance(conn, None)!;
            Assert.StartsWith(nicObj.GetString("InstanceID")!, connObj.GetString("InstanceID"));
            Assert.Equal(sw.ToPath(), connObj.GetStrings("HostResource")[0]);
            var vlan = gw.Add(conn, "AddFeatureSettings", gw.Vlan(10)).Single();
            Assert.StartsWith(connObj.GetString("InstanceID")!, gw.GetInstance(vlan, None)!.GetString("InstanceID"));
            Assert.Single(gw.GetAssociated(conn, "Msvm_EthernetPortSettingDataComponent", "Msvm_EthernetSwitchPortFeatureSettingData", null, null, None));
            var g = host.Guest("r1").Nics.Single();
            Assert.Equal(("lan1", (ushort?)10), (g.SwitchName, g.AccessVlanId));

            var modified = gw.GetInstance(vlan, None)!.Set("AccessVlanId", (ushort)20);
            var ex = Assert.Throws<CimGatewayException>(() => gw.Call(gw.Service("Msvm_VirtualSystemManagementService"), "ModifyFeatureSettings",
                CimMethodParameter.Strings("FeatureSettings", new[] { CimXml.Write(modified) })));
            Assert.Equal(CimErrorCode.Failed, ex.Code);
            Assert.Equal((ushort)10, gw.GetInstance(vlan, None)!.GetUInt16("AccessVlanId"));
            gw.Wait(gw.Service("Msvm_VirtualSystemManagementService"), "RemoveFeatureSettings", CimMethodParameter.References("FeatureSettings", new[] { vlan }));
            gw.Add(conn, "AddFeatureSettings", gw.Vlan(20));
            Assert.Equal((ushort?)20, host.Guest("r1").Nics.Single().AccessVlanId);

            var bw = gw.Feature("Msvm_EthernetSwitchPortBandwidthSettingData").Set("Limit", 1000003UL);
            var bwRef = gw.Add(conn, "AddFeatureSettings", bw).Single();
            Assert.Equal(1000000UL, gw.GetInstance(bwRef, None)!.GetUInt64("Limit"));
            Assert.Equal(4u, gw.Call(gw.Service("Msvm_VirtualSystemManagementService"), "AddFeatureSettings", CimMethodParameter.Reference("AffectedConfiguration", conn),
                CimMethodParameter.Strings("FeatureSettings", new[] { CimXml.Write(gw.Vlan(4095)) })).ReturnValue);

            gw.Wait(gw.Service("Msvm_VirtualSystemManagementService"), "RemoveResourceSettings", CimMethodParameter.References("ResourceSettings", new[] { nic }));
            Assert.Null(gw.GetInstance(conn, None));
            Assert.Empty(gw.Q("SELECT * FROM Msvm_EthernetSwitchPortFeatureSettingData WHERE InstanceID LIKE 'Microsoft:%\\\\C\\\\%'"));
        }

        [Fact]
        public void Nic_limit_bad_mac_and_missing_switch_are_refused()
        {
            var (host, gw) = New();
            var vm = gw.DefineVm("r1");
            for (int i = 0; i < 8; i++) gw.Nic(vm, "eth" + i);
            var vssd = gw.Vssd(vm).ToReference();
            var svc = gw.Service("Msvm_VirtualSystemManagementService");
            CimMethodResult Add(CimObject o) => gw.Call(svc, "AddResourceSettings", CimMethodParameter.Reference("AffectedConfiguration", vssd),
                CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(o) }));
            var ninth = gw.Template("Msvm_SyntheticEthernetPortSettingData", "Microsoft:Hyper-V:Synthetic Ethernet Port");
            Assert.Equal(2u, Add(ninth).ReturnValue);
            var vm2 = gw.DefineVm("r2");
            vssd = gw.Vssd(vm2).ToReference();
            Assert.Equal(4u, Add(ninth.Clone().Set("Address", "00-15-5D").Set("StaticMacAddress", true)).ReturnValue);
            var nic = gw.Nic(vm2, "eth0");
            var epasd = gw.Template("Msvm_EthernetPortAllocationSettingData", "Microsoft:Hyper-V:Ethernet Connection").Set("Parent", nic.ToPath())
                .Set("HostResource", new[] { host.Connect().Q("SELECT * FROM Msvm_ComputerSystem").First().ToReference().WithHost("HV01").ToPath().Replace("HV01\"", "nope\"") });
            Assert.Equal(4u, Add(epasd).ReturnValue);
            Assert.Equal(8, host.Guest("r1").Nics.Count);
        }

        [Fact]
        public void Disks_attach_only_when_off_and_files_must_exist()
        {
            var (host, gw) = New();
            host.AddFile(@"C:\VMs\r1.vhdx");
            var vm = gw.DefineVm("r1");
            var (ctrl, drive, media) = gw.Disk(vm, @"C:\VMs\r1.vhdx");
            Assert.Equal(@"C:\VMs\r1.vhdx", gw.GetInstance(media, None)!.GetStrings("HostResource")[0]);
            var vm2 = gw.DefineVm("r2");
            Assert.Throws<CimMethodException>(() => gw.Disk(vm2, @"C:\VMs\missing.vhdx"));
            gw.Power(vm, 2);
            Assert.Equal((ushort)2, gw.EnabledState(vm));
            var r = gw.Call(gw.Service("Msvm_VirtualSystemManagementService"), "RemoveResourceSettings", CimMethodParameter.References("ResourceSettings", new[] { drive }));
            Assert.Equal(5u, r.ReturnValue);
            gw.Power(vm, 3);
            gw.Wait(gw.Service("Msvm_VirtualSystemManagementService"), "RemoveResourceSettings", CimMethodParameter.References("ResourceSettings", new[] { drive }));
            Assert.Null(gw.GetInstance(media, None));
            Assert.NotNull(gw.GetInstance(ctrl, None));
        }

        [Fact]
        public void State_machine_runs_through_intermediate_states_and_refuses_illegal_transitions()
        {
            var (host, gw) = New();
            var vm = gw.DefineVm("r1");
            host.JobDuration = TimeSpan.FromHours(1);
            Assert.Equal(32775u, gw.State(vm, 3)); // already off
            Assert.Equal(32775u, gw.State(vm, 9)); // pause needs running
            Assert.Equal(32775u, gw.State(vm, 6));
            Assert.Equal(4096u, gw.State(vm, 2));
            Assert.Equal((ushort)10, gw.EnabledState(vm));
            Assert.Equal(32775u, gw.State(vm, 3)); // in transition
            host.CompleteJobs();
            Assert.Equal((ushort)2, gw.EnabledState(vm));
            Assert.Equal(4096u, gw.State(vm, 9));
            Assert.Equal((ushort)32776, gw.EnabledState(vm));
            host.CompleteJobs();
            Assert.Equal((ushort)9, gw.EnabledState(vm));
            Assert.Equal(4096u, gw.State(vm, 6));
            Assert.Equal((ushort)32773, gw.EnabledState(vm));
            host.CompleteJobs();
            Assert.Equal((ushort)6, gw.EnabledState(vm));
            Assert.Equal(32775u, gw.State(vm, 9));
            host.JobDuration = TimeSpan.Zero;
            gw.Power(vm, 2);
            Assert.Equal((ushort)2, gw.EnabledState(vm));
            Assert.Equal(32770u, gw.State(vm, 4));
            var job = gw.Call(vm, "RequestStateChange", CimMethodParameter.UInt16("RequestedState", 3)).Job!;
            Assert.Equal((ushort)7, gw.GetInstance(job, None)!.GetUInt16("JobState"));
            Assert.Equal((ushort)3, gw.EnabledState(vm));
        }

        [Fact]
        public void DestroySystem_needs_off_or_saved_and_keeps_vhds()
        {
            var (host, gw) = New();
            host.AddFile(@"C:\VMs\r1.vhdx");
            var vm = gw.DefineVm("r1");
            gw.Disk(vm, @"C:\VMs\r1.vhdx");
            gw.Power(vm, 2);
            var svc = gw.Service("Msvm_VirtualSystemManagementService");
            Assert.Equal(5u, gw.Call(svc, "DestroySystem", CimMethodParameter.Reference("AffectedSystem", vm)).ReturnValue);
            var file = new CimReference("CIM_DataFile", new[] { new KeyValuePair<string, object>("Name", @"C:\VMs\r1.vhdx") }, CimReference.Cimv2Namespace, "HV01");
            Assert.Equal(15u, gw.Call(file, "Delete").ReturnValue);
            gw.Power(vm, 6);
            gw.Wait(svc, "DestroySystem", CimMethodParameter.Reference("AffectedSystem", vm));
            Assert.Null(gw.GetInstance(vm, None));
            Assert.DoesNotContain(host.Instances("Msvm_StorageAllocationSettingData"), s => !s.GetString("InstanceID")!.Contains("Definition"));
            Assert.True(host.FileExists(@"C:\VMs\r1.vhdx"));
            Assert.Single(gw.Query(CimReference.Cimv2Namespace, "SELECT * FROM CIM_DataFile WHERE Drive='C:' AND Path='\\\\vms\\\\' AND Extension='vhdx'", None));
            Assert.Equal(0u, gw.Call(file, "Delete").ReturnValue);
            Assert.False(host.FileExists(@"C:\VMs\r1.vhdx"));
        }

        [Fact]
        public void Shutdown_needs_a_guest_and_ends_off()
        {
            var (host, gw) = New();
            host.AddFile(@"C:\VMs\r1.vhdx");
            host.GuestBootsAutomatically = false;
            var vm = gw.DefineVm("r1");
            gw.Disk(vm, @"C:\VMs\r1.vhdx");
            var sc = gw.GetAssociated(vm, "Msvm_SystemDevice", "Msvm_ShutdownComponent", null, null, None).Single().ToReference();
            var args = new[] { CimMethodParameter.Boolean("Force", true), CimMethodParameter.String("Reason", "test") };
            Assert.Equal(32775u, gw.Call(sc, "InitiateShutdown", args).ReturnValue);
            gw.Power(vm, 2);
            Assert.Equal((ushort)12, gw.GetInstance(sc, None)!.GetUInt16s("OperationalStatus")[0]);
            Assert.Equal(32777u, gw.Call(sc, "InitiateShutdown", args).ReturnValue);
            host.SetGuestUp("r1", true);
            Assert.Equal((ushort)2, gw.GetInstance(sc, None)!.GetUInt16s("OperationalStatus")[0]);
            host.JobDuration = TimeSpan.FromHours(1);
            Assert.Equal(0u, gw.Call(sc, "InitiateShutdown", args).ReturnValue);
            Assert.Equal((ushort)4, gw.EnabledState(vm));
            host.CompleteJobs();
            Assert.Equal((ushort)3, gw.EnabledState(vm));
        }

        [Fact]
        public void Summary_information_reports_requested_values()
        {
            var (host, gw) = New();
            var sw = gw.Switch("lan1");
            var vm = gw.DefineVm("r1");
            gw.Connect(vm, gw.Nic(vm, "eth0"), sw);
            gw.DefineVm("r2");
            var r = gw.Wait(gw.Service("Msvm_VirtualSystemManagementService"), "GetSummaryInformation",
                CimMethodParameter.UInt32s("RequestedInformation", new uint[] { 0, 1, 4, 9, 100, 110 }));
            var infos = (CimObject[])r["SummaryInformation"]!;
            Assert.Equal(2, infos.Length);
            var r1 = infos.Single(i => i.GetString("ElementName") == "r1");
            Assert.Equal(gw.GetInstance(vm, None)!.GetString("Name"), r1.GetString("Name"));
            Assert.Equal((ushort)1, r1.GetUInt16("NumberOfProcessors"));
            Assert.Equal(new[] { "lan1" }, r1.GetStrings("VirtualSwitchNames"));
            Assert.Equal((ushort)3, r1.GetUInt16("EnabledState"));
            Assert.Null(r1["Notes"]);
        }
    }

    public class SimulatorStorageKvpTests
    {
        private static CimMethodResult CreateVhd(ICimGateway gw, string path, string? parent, ushort type = 4)
        {
            var sd = new CimObject("Msvm_VirtualHardDiskSettingData")
                .Set("Type", CimDataType.UInt16, false, type).Set("Format", CimDataType.UInt16, false, (ushort)3)
                .Set("Path", CimDataType.String, false, path).Set("ParentPath", CimDataType.String, false, parent)
                .Set("MaxInternalSize", CimDataType.UInt64, false, 0UL);
            return gw.Call(gw.Service("Msvm_ImageManagementService"), "CreateVirtualHardDisk", CimMethodParameter.String("VirtualDiskSettingData", CimXml.Write(sd)));
        }

        [Fact]
        public void Differencing_disks_need_a_parent_and_a_free_path()
        {
            var (host, gw) = New();
            host.AddFile(@"C:\Images\router.vhdx");
            var svc = gw.Service("Msvm_ImageManagementService");
            var r = CreateVhd(gw, @"C:\VMs\r1.vhdx", @"C:\Images\router.vhdx");
            Assert.Equal(4096u, r.ReturnValue);
            Assert.Equal("Msvm_StorageJob", r.Job!.ClassName);
            gw.Complete(svc, "CreateVirtualHardDisk", r, None, Fast);
            Assert.True(host.FileExists(@"C:\VMs\r1.vhdx"));
            var again = CreateVhd(gw, @"C:\VMs\r1.vhdx", @"C:\Images\router.vhdx");
            var ex = Assert.Throws<CimMethodException>(() => gw.Complete(svc, "CreateVirtualHardDisk", again, None, Fast));
            Assert.Contains("file exists", ex.Message, StringComparison.OrdinalIgnoreCase);
            Assert.Equal(32779u, CreateVhd(gw, @"C:\VMs\r2.vhdx", @"C:\Images\nope.vhdx").ReturnValue);
            Assert.Equal(32773u, CreateVhd(gw, @"C:\VMs\r2.vhdx", null).ReturnValue);
            Assert.Equal(32773u, CreateVhd(gw, @"C:\VMs\r2.vhdx", null, type: 3).ReturnValue);
            // GetVirtualHardDiskSettingData answers 4096 with a storage job (SettingData filled at once); a missing file
            // fails the job with Windows' "file not found" HRESULT. Synchronous 0 / 32779 with ImageQueriesUseJobs off.
            var info = gw.Call(svc, "GetVirtualHardDiskSettingData", CimMethodParameter.String("Path", @"C:\VMs\r1.vhdx"));
            Assert.Equal(4096u, info.ReturnValue);
            Assert.Equal("Msvm_StorageJob", info.Job!.ClassName);
            gw.Complete(svc, "GetVirtualHardDiskSettingData", info, None, Fast);
            Assert.Equal(@"C:\Images\router.vhdx", CimXml.Read((string)info["SettingData"]!).GetString("ParentPath"));
            var missing = gw.Call(svc, "GetVirtualHardDiskSettingData", CimMethodParameter.String("Path", @"C:\Images\nope.vhdx"));
            Assert.Equal(4096u, missing.ReturnValue);
            var failed = Assert.Throws<CimMethodException>(() => gw.Complete(svc, "GetVirtualHardDiskSettingData", missing, None, Fast));
            Assert.Contains("0x80070002", failed.Message);
            host.ImageQueriesUseJobs = false;
            Assert.Equal(0u, gw.Call(svc, "GetVirtualHardDiskSettingData", CimMethodParameter.String("Path", @"C:\VMs\r1.vhdx")).ReturnValue);
            Assert.Equal(32779u, gw.Call(svc, "GetVirtualHardDiskSettingData", CimMethodParameter.String("Path", @"C:\nope.vhdx")).ReturnValue);
        }

        [Fact]
        public void Kvp_rules_and_guest_agent_replies()
        {
            var (host, gw) = New();
            host.AddFile(@"C:\VMs\r1.vhdx");
            var sw = gw.Switch("lan1");
            var vm = gw.DefineVm("r1");
            gw.Disk(vm, @"C:\VMs\r1.vhdx");
            gw.Connect(vm, gw.Nic(vm, "eth0"), sw);
            var seen = new List<string>();
            host.GuestAgent = (ctx, key, data) => { seen.Add(key); return key == "ping" ? $"pong {data} via {ctx.Nics.Single().SwitchName}" : null; };
            Assert.Equal(0u, gw.Kvp("AddKvpItems", vm, Item("config", "a")));
            Assert.Empty(seen); // VM is off
            Assert.Equal(32768u, gw.Kvp("AddKvpItems", vm, Item("config", "b")));
            Assert.Equal(32768u, gw.Kvp("ModifyKvpItems", vm, Item("missing", "b")));
            Assert.Equal(32773u, gw.Kvp("AddKvpItems", vm, Item(new string('k', 1025), "x")));
            Assert.Equal(32773u, gw.Kvp("AddKvpItems", vm, Enumerable.Range(0, 129).Select(i => Item("k" + i, "v")).ToArray()));
            gw.Power(vm, 2);
            Assert.Equal(new[] { "config" }, seen);
            Assert.Equal(0u, gw.Kvp("AddKvpItems", vm, Item("ping", "1")));
            var kc = gw.GetAssociated(vm, "Msvm_SystemDevice", "Msvm_KvpExchangeComponent", null, null, None).Single();
            var item = CimXml.Read(kc.GetStrings("GuestExchangeItems").Single());
            Assert.Equal(("ping", "pong 1 via lan1", (ushort?)1), (item.GetString("Name"), item.GetString("Data"), item.GetUInt16("Source")));
            var settings = gw.Q("SELECT * FROM Msvm_KvpExchangeComponentSettingData").Single();
            Assert.Equal(2, settings.GetStrings("HostExchangeItems").Length);
            Assert.Equal(0u, gw.Kvp("RemoveKvpItems", vm, new CimObject("Msvm_KvpExchangeDataItem").Set("Name", CimDataType.String, false, "config").Set("Source", CimDataType.UInt16, false, (ushort)0)));
            Assert.Single(gw.Q("SELECT * FROM Msvm_KvpExchangeComponentSettingData").Single().GetStrings("HostExchangeItems"));
        }
    }

    public class SimulatorInfrastructureTests
    {
        [Fact]
        public void Injected_method_failure_fires_on_the_nth_call_and_changes_nothing()
        {
            var (host, gw) = New();
            host.Faults.FailMethod("DefineSystem", 32768, occurrence: 2);
            gw.DefineVm("r1");
            var ex = Assert.Throws<CimMethodException>(() => gw.DefineVm("r2"));
            Assert.Equal(32768u, ex.ReturnValue);
            gw.DefineVm("r3");
            Assert.Equal(new[] { "r1", "r3" }, host.Instances("Msvm_VirtualSystemSettingData").Select(v => v.GetString("ElementName")).OrderBy(x => x));
        }

        [Fact]
        public void Injected_job_failure_reports_errors_and_changes_nothing()
        {
            var (host, gw) = New();
            var vm = gw.DefineVm("r1");
            host.Faults.FailJob("AddResourceSettings", errorCode: 32779, description: "disk gone", message: "The file was not found.", when: c => c.Target!.ClassName.EndsWith("ManagementService"));
            var ex = Assert.Throws<CimMethodException>(() => gw.Nic(vm, "eth0"));
            Assert.Equal((ushort?)32779, ex.JobErrorCode);
            Assert.Equal(new[] { "The file was not found." }, ex.Errors);
            Assert.Empty(host.Guest("r1").Nics);
        }

        [Fact]
        public void Injected_gateway_exceptions()
        {
            var (host, gw) = New();
            host.Faults.Throw(CimErrorCode.AccessDenied, GatewayOperation.Query, match: "Msvm_ComputerSystem", occurrence: 1);
            Assert.Equal(CimErrorCode.AccessDenied, Assert.Throws<CimGatewayException>(() => gw.Q("SELECT * FROM Msvm_ComputerSystem")).Code);
            Assert.Single(gw.Q("SELECT * FROM Msvm_ComputerSystem"));
            host.Faults.Throw(CimErrorCode.InvalidNamespace);
            Assert.Equal(CimErrorCode.InvalidNamespace, Assert.Throws<CimGatewayException>(() => gw.Q("SELECT * FROM Msvm_VirtualSystemManagementService")).Code);
            Assert.Throws<CimGatewayException>(() => gw.GetInstance(new CimObject("Msvm_ComputerSystem").Set("Name", CimDataType.String, false, "x", true).ToReference(), None));
            host.Faults.Clear();
            Assert.Single(gw.Q("SELECT * FROM Msvm_VirtualSystemManagementService"));
        }

        [Fact]
        public void Counters_count_each_primitive_and_reset()
        {
            var (host, gw) = New();
            host.Counters.Reset();
            gw.DefineVm("r1");
            Assert.True(host.Counters.Queries >= 1);
            Assert.Equal(1, host.Counters.Method("DefineSystem"));
            Assert.Equal(1, host.Counters.InvokeMethod);
            Assert.True(host.Counters.JobPolls >= 1);
            host.Counters.Reset();
            for (int i = 0; i < 3; i++) gw.Q("SELECT Name FROM Msvm_ComputerSystem");
            Assert.Equal(3, host.Counters.Queries);
            Assert.Equal(3, host.Counters.QueriesOf("Msvm_ComputerSystem"));
            Assert.Equal(0, host.Counters.InvokeMethod);
        }

        [Fact]
        public void Resulting_settings_can_be_omitted_and_jobs_can_vanish()
        {
            var (host, gw) = New();
            host.ResultingSettings = ResultingSettingsPolicy.Never;
            var vm = gw.DefineVm("r1");
            var nic = gw.Template("Msvm_SyntheticEthernetPortSettingData", "Microsoft:Hyper-V:Synthetic Ethernet Port");
            var svc = gw.Service("Msvm_VirtualSystemManagementService");
            var r = gw.Call(svc, "AddResourceSettings", CimMethodParameter.Reference("AffectedConfiguration", gw.Vssd(vm).ToReference()),
                CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(nic) }));
            Assert.Equal(4096u, r.ReturnValue);
            Assert.Null(r["ResultingResourceSettings"]);
            gw.Complete(svc, "AddResourceSettings", r, None, Fast);
            var added = gw.GetAssociated(r.Job!, "Msvm_AffectedJobElement", "Msvm_SyntheticEthernetPortSettingData", null, null, None).Single();
            Assert.Equal("Network Adapter", added.GetString("ElementName"));
            host.RemoveFinishedJobsAfter = TimeSpan.Zero;
            Assert.Null(gw.GetInstance(r.Job!, None));
        }

        [Fact]
        public void Switches_internal_ports_and_destroy_disconnects()
        {
            var (host, gw) = New();
            var sw = gw.Switch("mgmt", internalPort: true);
            Assert.Equal("mgmt", gw.Q("SELECT * FROM Msvm_InternalEthernetPort").Single().GetString("ElementName"));
            var priv = gw.Switch("lan1");
            var vm = gw.DefineVm("r1");
            var conn = gw.Connect(vm, gw.Nic(vm, "eth0"), priv);
            gw.Wait(gw.Service("Msvm_VirtualEthernetSwitchManagementService"), "DestroySystem", CimMethodParameter.Reference("AffectedSystem", priv));
            Assert.Null(gw.GetInstance(priv, None));
            var c = gw.GetInstance(conn, None)!;
            Assert.Empty(c.GetStrings("HostResource"));
            Assert.Equal("lan1", c.GetString("LastKnownSwitchName"));
            Assert.False(host.Guest("r1").Nics.Single().Connected);
            gw.Wait(gw.Service("Msvm_VirtualEthernetSwitchManagementService"), "DestroySystem", CimMethodParameter.Reference("AffectedSystem", sw));
            Assert.Empty(gw.Q("SELECT * FROM Msvm_InternalEthernetPort"));
        }

        [Fact]
        public void Datacenter_hosts_are_independent_and_parallel_use_is_safe()
        {
            var dc = new SimulatedDatacenter();
            var h1 = dc.AddHost("HV01");
            var h2 = dc.AddHost("HV02");
            h1.JobDuration = h2.JobDuration = TimeSpan.Zero;
            var g1 = dc.Connect("HV01");
            var g2 = dc.Connect("HV02");
            Parallel.For(0, 20, i => (i % 2 == 0 ? g1 : g2).DefineVm("r" + i));
            Assert.Equal(10, h1.Instances("Msvm_VirtualSystemSettingData").Count);
            Assert.Equal(10, g2.Q("SELECT * FROM Msvm_VirtualSystemSettingData").Count);
            Assert.Equal("HV02", g2.Q("SELECT * FROM Msvm_VirtualSystemManagementService").Single().ToReference().Host);
            var vmOn1 = g1.Q("SELECT * FROM Msvm_ComputerSystem WHERE Caption='Virtual Machine'").First().ToReference();
            Assert.Equal(CimErrorCode.InvalidParameter, Assert.Throws<CimGatewayException>(() => g2.GetInstance(vmOn1, None)).Code);
            Assert.Equal(CimErrorCode.ConnectionFailed, Assert.Throws<CimGatewayException>(() => dc.Connect("HV03").Q("SELECT * FROM Msvm_ComputerSystem")).Code);
        }
    }
}
