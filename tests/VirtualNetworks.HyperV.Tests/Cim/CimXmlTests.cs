using System;
using VirtualNetworks.HyperV.Cim;
using Xunit;

namespace VirtualNetworks.HyperV.Tests.Cim
{
    public class CimXmlTests
    {
        [Fact]
        public void Round_trips_scalars_arrays_nulls_and_keys()
        {
            var o = new CimObject("Msvm_VirtualSystemSettingData")
                .Set("InstanceID", CimDataType.String, false, @"Microsoft:ABC\Default", isKey: true)
                .Set("ElementName", CimDataType.String, false, "r1 <&> \"q\"")
                .Set("Notes", CimDataType.String, true, new[] { "a", "" })
                .Set("AutomaticStartupAction", CimDataType.UInt16, false, 2)
                .Set("SecureBootEnabled", CimDataType.Boolean, false, false)
                .Set("Limit", CimDataType.UInt64, false, ulong.MaxValue)
                .Set("ConfigurationDataRoot", CimDataType.String, false, null);
            var text = CimXml.Write(o);
            var back = CimXml.Read(text);
            Assert.Equal("Msvm_VirtualSystemSettingData", back.ClassName);
            Assert.Equal("r1 <&> \"q\"", back["ElementName"]);
            Assert.Equal(new[] { "a", "" }, back.GetStrings("Notes"));
            Assert.Equal((ushort)2, back["AutomaticStartupAction"]);
            Assert.Equal(false, back["SecureBootEnabled"]);
            Assert.Equal(ulong.MaxValue, back["Limit"]);
            Assert.True(back.Has("ConfigurationDataRoot"));
            Assert.Null(back["ConfigurationDataRoot"]);
            Assert.True(back.Property("InstanceID")!.IsKey);
            Assert.False(back.Property("ElementName")!.IsKey);
            Assert.Contains("TYPE=\"uint16\"", text);
            Assert.StartsWith("<INSTANCE CLASSNAME=\"Msvm_VirtualSystemSettingData\">", text);
        }

        [Theory]
        [InlineData("")]
        [InlineData("<INSTANCE>")]
        [InlineData("<INSTANCE><PROPERTY NAME=\"a\" TYPE=\"uint16\"><VALUE>x</VALUE></PROPERTY></INSTANCE>")]
        [InlineData("<INSTANCE CLASSNAME=\"C\"><PROPERTY NAME=\"a\" TYPE=\"uint16\"><VALUE>70000</VALUE></PROPERTY></INSTANCE>")]
        [InlineData("<INSTANCE CLASSNAME=\"C\"><PROPERTY NAME=\"a\" TYPE=\"nosuch\"><VALUE>1</VALUE></PROPERTY></INSTANCE>")]
        [InlineData("<INSTANCE CLASSNAME=\"C\"><BOGUS/></INSTANCE>")]
        public void Rejects_malformed_text(string text)
        {
            Assert.Throws<FormatException>(() => CimXml.Read(text));
        }

        [Fact]
        public void Reads_wmi_dtd20_with_system_properties_and_qualifiers()
        {
            const string text = "<INSTANCE CLASSNAME=\"Msvm_Error\"><QUALIFIER NAME=\"dynamic\" TYPE=\"boolean\"><VALUE>TRUE</VALUE></QUALIFIER>" +
                "<PROPERTY NAME=\"__CLASS\" CLASSORIGIN=\"___SYSTEM\" TYPE=\"string\"><VALUE>Msvm_Error</VALUE></PROPERTY>" +
                "<PROPERTY NAME=\"Message\" TYPE=\"string\"><VALUE>The file exists.</VALUE></PROPERTY></INSTANCE>";
            var e = CimXml.Read(text);
            Assert.Equal("The file exists.", e["Message"]);
            Assert.False(e.Has("__CLASS"));
        }
    }

    public class CimReferenceTests
    {
        [Fact]
        public void Path_round_trips_with_escaped_backslashes_and_quotes()
        {
            var r = CimReference.ByInstanceId("Msvm_SyntheticEthernetPortSettingData", "Microsoft:6A1F\\C3E0\"x", "HV01");
            var path = r.ToPath();
            Assert.Equal("\\\\HV01\\root\\virtualization\\v2:Msvm_SyntheticEthernetPortSettingData.InstanceID=\"Microsoft:6A1F\\\\C3E0\\\"x\"", path);
            var back = CimReference.Parse(path);
            Assert.Equal("HV01", back.Host);
            Assert.Equal("Microsoft:6A1F\\C3E0\"x", back.Key("InstanceID"));
            Assert.True(back.Equals(r));
        }

        [Fact]
        public void Parses_switch_paths_with_two_keys_and_relative_paths()
        {
            var p = "\\\\HV01\\root\\virtualization\\v2:Msvm_VirtualEthernetSwitch.CreationClassName=\"Msvm_VirtualEthernetSwitch\",Name=\"C08CB7B8-9B3C-408E-8E30-5E16A3AEB444\"";
            var r = CimReference.Parse(p);
            Assert.Equal("Msvm_VirtualEthernetSwitch", r.ClassName);
            Assert.Equal("c08cb7b8-9b3c-408e-8e30-5e16a3aeb444", r.Key("Name")!.ToLowerInvariant());
            Assert.True(r.Matches(CimReference.Parse("root\\virtualization\\v2:Msvm_VirtualEthernetSwitch.Name=\"c08cb7b8-9b3c-408e-8e30-5e16a3aeb444\",CreationClassName=\"Msvm_VirtualEthernetSwitch\"")));
        }

        [Theory]
        [InlineData("")]
        [InlineData("Msvm_X")]
        [InlineData("root\\v2:Msvm_X.InstanceID=\"unterminated")]
        [InlineData("root\\v2:Msvm_X.=\"a\"")]
        [InlineData("\\\\host")]
        public void Rejects_non_paths(string text)
        {
            Assert.False(CimReference.TryParse(text, out _, out var why));
            Assert.NotEmpty(why);
        }
    }
}
