using System;
using System.Collections.Generic;
using System.Linq;
using VirtualNetworks.HyperV.Cim;
using VirtualNetworks.HyperV.Simulator;
using Xunit;
using static VirtualNetworks.HyperV.Tests.Simulator.Sim;

namespace VirtualNetworks.HyperV.Tests.Simulator
{
    /// <summary>
    /// The simulator runs on the real schema (Schema/wmi-*.json, tools/WmiSchemaGen from microsoft/wmi): this test host's
    /// version, the refinements checked against it, and the guards that keep the simulator from inventing anything.
    /// </summary>
    public class RealSchemaTests
    {
        /// <summary>The version this test assembly was built to run (VirtualNetworks.HyperV.Tests.Server23h2: server23h2).</summary>
        public static string ExpectedVersion =>
            typeof(RealSchemaTests).Assembly.GetName().Name!.EndsWith(".Server23h2", StringComparison.Ordinal) ? "server23h2" : "server2019";

        [Fact]
        public void The_test_host_runs_the_simulator_on_its_own_real_schema_version()
        {
            Assert.Equal(ExpectedVersion, HyperVSchema.Version);
            Assert.Equal(ExpectedVersion, HyperVSchema.Data.Version);
            Assert.Matches("^[0-9a-f]{40}$", HyperVSchema.Data.Commit);
            Assert.True(HyperVSchema.Data.Classes.Count > 400);
        }

        [Theory]
        [InlineData("server2019")]
        [InlineData("server23h2")]
        public void Every_simulated_class_property_method_and_parameter_is_in_the_real_schema(string version)
        {
            // the simulator's classes are built for this process's version; the data of both versions must agree on every
            // name the simulator declares for the classes it models (a version-specific name would break the other host)
            var data = WmiSchemaData.Load(version);
            var problems = new List<string>();
            foreach (var c in HyperVSchema.Classes)
            {
                string ns = c.Namespace == CimReference.Cimv2Namespace ? WmiSchemaData.Cimv2 : WmiSchemaData.V2;
                var real = data.Find(c.Name, ns);
                if (real == null)
                {
                    if (data.Version != HyperVSchema.Version) continue; // a class only this version has
                    problems.Add("class " + c.Name); continue;
                }
                var props = data.AllProperties(real);
                foreach (var p in c.Properties)
                    if (!props.ContainsKey(p.Name) && data.Version == HyperVSchema.Version) problems.Add($"property {c.Name}.{p.Name}");
                foreach (var m in c.Methods)
                {
                    var rm = data.FindMethod(real, m.Name);
                    if (rm == null) { if (data.Version == HyperVSchema.Version) problems.Add($"method {c.Name}.{m.Name}"); continue; }
                    foreach (var p in m.Parameters)
                    {
                        var rp = rm.Parameter(p.Name);
                        if (rp == null || rp.IsIn != p.IsIn || rp.IsOut != p.IsOut) problems.Add($"parameter {c.Name}.{m.Name}.{p.Name}");
                    }
                }
            }
            Assert.True(problems.Count == 0, string.Join("\n", problems));
        }

        [Fact]
        public void The_names_the_issue_found_invented_or_mistyped_are_gone_or_fixed()
        {
            var job = HyperVSchema.Class("CIM_ConcreteJob");
            foreach (var p in new[] { "JobType", "Cancellable", "ErrorSummaryDescription" })
            {
                Assert.Null(job.Property(p));                                       // not on the DMTF base class ...
                Assert.NotNull(HyperVSchema.Class("Msvm_ConcreteJob").Property(p));  // ... but on Hyper-V's job classes
            }
            Assert.Null(HyperVSchema.Class("Msvm_ComputerSystem").Property("AssignedNumaNodeList"));
            Assert.Null(HyperVSchema.Class("Msvm_VirtualEthernetSwitch").Property("MaxChimneyOffloads"));
            Assert.Null(HyperVSchema.Class("Msvm_MigrationJob").Property("VirtualSystemElementName"));
            Assert.Null(HyperVSchema.Class("Msvm_StorageJob").Property("Lun"));
            Assert.Equal(CimDataType.UInt16, HyperVSchema.Class("Msvm_VirtualSystemSettingData").Property("NetworkBootPreferredProtocol")!.Type);
            foreach (var m in new[] { "InitiateShutdown", "InitiateReboot" })
                Assert.Null(HyperVSchema.Class("Msvm_ShutdownComponent").Method(m)!.Parameter("Job"));
            // refinements the generated code cannot express survive: keys, datetime, REF vs embedded instance, codes
            Assert.True(HyperVSchema.Class("Msvm_ComputerSystem").Property("Name")!.IsKey);
            Assert.Equal(CimDataType.DateTime, job.Property("TimeSubmitted")!.Type);
            Assert.Equal(CimDataType.Instance, HyperVSchema.Class("Msvm_VirtualSystemManagementService").Method("GetSummaryInformation")!.Parameter("SummaryInformation")!.Type);
            Assert.Equal("File not found", HyperVSchema.Class("Msvm_ImageManagementService").Method("GetVirtualHardDiskSettingData")!.ReturnCodes[32779]);
        }

        [Fact]
        public void A_hand_written_name_the_real_schema_lacks_is_refused()
        {
            var data = HyperVSchema.Data;
            var cls = new ClassSpec { Name = "CIM_ConcreteJob", Super = "CIM_Job" };
            cls.Properties.Add(new SimPropertyDef("JobType", CimDataType.UInt16, false, false));
            cls.Properties.Add(new SimPropertyDef("ErrorCode", CimDataType.UInt32, false, false)); // real: uint16
            var method = new MethodSpec { ClassName = "Msvm_ShutdownComponent", Name = "InitiateShutdown", Family = SimReturnFamily.HyperV };
            method.Parameters.Add(new SimParameterDef("Job", CimDataType.Reference, false, false, true, false, null));
            var missing = new MethodSpec { ClassName = "Msvm_ComputerSystem", Name = "RequestStateChangeX" };
            var ex = Assert.Throws<InvalidOperationException>(() => SchemaBuilder.Build(data, new List<ClassSpec> { cls },
                new List<MethodSpec> { method, missing }, new Dictionary<string, SimClassDef>(StringComparer.OrdinalIgnoreCase)));
            Assert.Contains("property CIM_ConcreteJob.JobType is not in the real schema", ex.Message);
            Assert.Contains("CIM_ConcreteJob.ErrorCode", ex.Message);
            Assert.Contains("InitiateShutdown: parameter Job is not in the real schema", ex.Message);
            Assert.Contains("Msvm_ComputerSystem.RequestStateChangeX is not in the real schema", ex.Message);
        }

        [Fact]
        public void The_simulator_never_answers_an_out_parameter_or_hands_out_a_property_the_real_schema_lacks()
        {
            // a job failure injected into InitiateShutdown cannot hand out a Job (the real method has no Job output):
            // the answer is 4096 alone, as a real host may give it
            var (host, gw) = New();
            var vm = gw.DefineVm("r1");
            gw.Power(vm, 2);
            host.SetGuestUp("r1", true);
            var sc = gw.GetAssociated(vm, "Msvm_SystemDevice", "Msvm_ShutdownComponent", null, null, None).Single().ToReference();
            host.Faults.FailJob("InitiateShutdown");
            var started = gw.Call(sc, "InitiateShutdown", CimMethodParameter.Boolean("Force", false), CimMethodParameter.String("Reason", "test"));
            Assert.Equal(4096u, started.ReturnValue);
            Assert.False(started.OutParameters.ContainsKey("Job"));

            // a real method the simulator has no handler for fails loudly instead of reaching another method's handler
            host.AddFile(@"C:\VMs\keep.vhdx");
            var file = new CimReference("CIM_DataFile", new[] { new KeyValuePair<string, object>("Name", @"C:\VMs\keep.vhdx") }, CimReference.Cimv2Namespace);
            Assert.Throws<NotSupportedException>(() => gw.Call(file, "Rename", CimMethodParameter.String("FileName", @"C:\VMs\other.vhdx")));
            Assert.True(host.FileExists(@"C:\VMs\keep.vhdx"));
            Assert.Throws<NotSupportedException>(() => gw.Call(vm, "InjectNonMaskableInterrupt"));
            Assert.Equal((ushort)2, gw.EnabledState(vm));

            var invented = new CimObject("Msvm_ComputerSystem").Set("AssignedNumaNodeList", CimDataType.UInt16, true, new ushort[] { 0 });
            Assert.Contains("AssignedNumaNodeList", Assert.Throws<InvalidOperationException>(() => HyperVSimulator.Declared(invented)).Message);
        }
    }
}
