using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;

namespace VirtualNetworks.HyperV.Tests.Simulator
{
    internal static class Sim
    {
        public const string Ns = CimReference.VirtualizationNamespace;
        public static readonly CancellationToken None = CancellationToken.None;
        public static readonly CimJobPolicy Fast = new CimJobPolicy { FirstPoll = TimeSpan.FromMilliseconds(1), MaxPoll = TimeSpan.FromMilliseconds(2), Timeout = TimeSpan.FromSeconds(5) };

        public static (HyperVSimulator Host, ICimGateway Gw) New(string name = "HV01")
        {
            var h = new HyperVSimulator(name) { JobDuration = TimeSpan.Zero };
            return (h, h.Connect());
        }

        public static IReadOnlyList<CimObject> Q(this ICimGateway gw, string wql) => gw.Query(Ns, wql, None);

        public static CimReference Service(this ICimGateway gw, string cls) => gw.Q("SELECT * FROM " + cls).Single().ToReference();

        public static CimObject Template(this ICimGateway gw, string cls, string subType) =>
            gw.Q($"SELECT * FROM {cls} WHERE ResourceSubType='{subType}' AND InstanceID LIKE '%\\\\Default'").Single();

        public static CimObject Feature(this ICimGateway gw, string cls) => gw.Q($"SELECT * FROM {cls} WHERE InstanceID LIKE '%\\\\Default'").Single();

        public static CimMethodResult Call(this ICimGateway gw, CimReference target, string method, params CimMethodParameter[] ps) =>
            gw.InvokeMethod(target, method, ps, None);

        public static CimMethodResult Wait(this ICimGateway gw, CimReference target, string method, params CimMethodParameter[] ps) =>
            gw.InvokeAndWait(target, method, ps, None, Fast);

        public static CimReference DefineVm(this ICimGateway gw, string name, bool gen2 = true)
        {
            var sd = new CimObject("Msvm_VirtualSystemSettingData")
                .Set("ElementName", CimDataType.String, false, name)
                .Set("VirtualSystemSubType", CimDataType.String, false, gen2 ? "Microsoft:Hyper-V:SubType:2" : "Microsoft:Hyper-V:SubType:1");
            var r = gw.Wait(gw.Service("Msvm_VirtualSystemManagementService"), "DefineSystem", CimMethodParameter.String("SystemSettings", CimXml.Write(sd)));
            return (CimReference)r["ResultingSystem"]!;
        }

        public static CimObject Vssd(this ICimGateway gw, CimReference vm) =>
            gw.GetAssociated(vm, "Msvm_SettingsDefineState", "Msvm_VirtualSystemSettingData", null, null, None).Single();

        /// <summary>AddResourceSettings (or AddFeatureSettings) and the resulting references (via Msvm_AffectedJobElement when omitted).</summary>
        public static CimReference[] Add(this ICimGateway gw, CimReference affected, string method, params CimObject[] settings)
        {
            string svc = method == "AddResourceSettings" || method == "AddFeatureSettings" ? "Msvm_VirtualSystemManagementService" : method;
            string list = method == "AddFeatureSettings" ? "FeatureSettings" : "ResourceSettings";
            string outName = method == "AddFeatureSettings" ? "ResultingFeatureSettings" : "ResultingResourceSettings";
            var target = gw.Service(svc);
            var r = gw.Call(target, method, CimMethodParameter.Reference("AffectedConfiguration", affected),
                CimMethodParameter.Strings(list, settings.Select(CimXml.Write)));
            gw.Complete(target, method, r, None, Fast);
            if (r[outName] is CimReference[] refs) return refs;
            // The job's affected elements include the VM itself (first): keep those of the classes just added.
            var classes = settings.Select(s => HyperVSchema.Class(s.ClassName)).ToList();
            return gw.GetAssociated(r.Job!, "Msvm_AffectedJobElement", null, null, null, None)
                .Where(o => classes.Any(c => HyperVSchema.Class(o.ClassName).IsA(c.Name) || c.IsA(o.ClassName)))
                .Select(o => o.ToReference()).ToArray();
        }

        public static CimReference AddRes(this ICimGateway gw, CimReference vssd, CimObject setting) => gw.Add(vssd, "AddResourceSettings", setting).Single();

        public static CimReference Switch(this ICimGateway gw, string name, bool internalPort = false)
        {
            var sd = new CimObject("Msvm_VirtualEthernetSwitchSettingData").Set("ElementName", CimDataType.String, false, name);
            var ps = new List<CimMethodParameter> { CimMethodParameter.String("SystemSettings", CimXml.Write(sd)) };
            if (internalPort)
            {
                var port = gw.Template("Msvm_EthernetPortAllocationSettingData", "Microsoft:Hyper-V:Ethernet Connection")
                    .Set("HostResource", new[] { gw.Q("SELECT * FROM Msvm_ComputerSystem WHERE Caption='Hosting Computer System'").Single().ToReference().ToPath() });
                ps.Add(CimMethodParameter.Strings("ResourceSettings", new[] { CimXml.Write(port) }));
            }
            var r = gw.InvokeAndWait(gw.Service("Msvm_VirtualEthernetSwitchManagementService"), "DefineSystem", ps, None, Fast);
            return (CimReference)r["ResultingSystem"]!;
        }

        public static CimReference Nic(this ICimGateway gw, CimReference vm, string name, string? mac = null)
        {
            var nic = gw.Template("Msvm_SyntheticEthernetPortSettingData", "Microsoft:Hyper-V:Synthetic Ethernet Port")
                .Set("ElementName", name).Set("VirtualSystemIdentifiers", new[] { Guid.NewGuid().ToString("B") });
            if (mac != null) nic.Set("Address", mac).Set("StaticMacAddress", true);
            return gw.AddRes(gw.Vssd(vm).ToReference(), nic);
        }

        public static CimReference Connect(this ICimGateway gw, CimReference vm, CimReference nic, CimReference sw)
        {
            var epasd = gw.Template("Msvm_EthernetPortAllocationSettingData", "Microsoft:Hyper-V:Ethernet Connection")
                .Set("Parent", nic.ToPath()).Set("HostResource", new[] { sw.ToPath() });
            return gw.AddRes(gw.Vssd(vm).ToReference(), epasd);
        }

        public static CimObject Vlan(this ICimGateway gw, ushort id) =>
            gw.Feature("Msvm_EthernetSwitchPortVlanSettingData").Set("OperationMode", 1u).Set("AccessVlanId", id);

        public static uint State(this ICimGateway gw, CimReference vm, ushort requested) =>
            gw.Call(vm, "RequestStateChange", CimMethodParameter.UInt16("RequestedState", requested)).ReturnValue;

        public static void Power(this ICimGateway gw, CimReference vm, ushort requested) =>
            gw.Wait(vm, "RequestStateChange", CimMethodParameter.UInt16("RequestedState", requested));

        public static ushort EnabledState(this ICimGateway gw, CimReference vm) => gw.GetInstance(vm, None)!.GetUInt16("EnabledState")!.Value;

        /// <summary>SCSI controller + drive + VHD media of <paramref name="file"/>; returns (controller, drive, media).</summary>
        public static (CimReference, CimReference, CimReference) Disk(this ICimGateway gw, CimReference vm, string file)
        {
            var vssd = gw.Vssd(vm).ToReference();
            var ctrl = gw.AddRes(vssd, gw.Template("Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Synthetic SCSI Controller"));
            var drive = gw.AddRes(vssd, gw.Template("Msvm_ResourceAllocationSettingData", "Microsoft:Hyper-V:Synthetic Disk Drive")
                .Set("Parent", ctrl.ToPath()).Set("AddressOnParent", "0"));
            var media = gw.AddRes(vssd, gw.Template("Msvm_StorageAllocationSettingData", "Microsoft:Hyper-V:Virtual Hard Disk")
                .Set("Parent", drive.ToPath()).Set("HostResource", new[] { file }));
            return (ctrl, drive, media);
        }

        public static CimObject Item(string name, string data) => new CimObject("Msvm_KvpExchangeDataItem")
            .Set("Name", CimDataType.String, false, name).Set("Data", CimDataType.String, false, data).Set("Source", CimDataType.UInt16, false, (ushort)0);

        public static uint Kvp(this ICimGateway gw, string method, CimReference vm, params CimObject[] items)
        {
            var svc = gw.Service("Msvm_VirtualSystemManagementService");
            var r = gw.Call(svc, method, CimMethodParameter.Reference("TargetSystem", vm), CimMethodParameter.Strings("DataItems", items.Select(CimXml.Write)));
            if (r.ReturnValue != 4096) return r.ReturnValue;
            try { gw.Complete(svc, method, r, None, Fast); return 0; }
            catch (CimMethodException) { return 4096; }
        }
    }
}
