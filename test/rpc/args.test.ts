import { describe, expect, it } from 'vitest';
import { decodeArgs, hasDecoder, TABLE } from '../../src/rpc/args';
import { taskXml } from '../../src/rpc/args/tsch';

/**
 * Stub bytes are real: taken with tshark from the lab captures (captures/) and from the shared
 * corpus (named by their corpus path), with the interface dissector disabled so that tshark
 * prints the reassembled stub (`--disable-protocol svcctl … -T fields -e dcerpc.stub_data`).
 * Expected values were checked against tshark's own decode (`tshark -V`) where tshark 4.0
 * decodes the operation; where it does not (svcctl opnums 1 and 45, AddPrinterDriverEx, NDR64
 * srvsvc, Win32 return codes), against the bytes by hand with the MS-* IDL.
 */
interface Fixture {
  iface: string;
  opnum: number;
  ndr64: boolean;
  request: string;
  response: string | null;
}

const FIXTURES = {
  /** captures/06-impacket-psexec.pcap, request frame 100, response frame 103 */
  lab06_openscm: {
    iface: 'svcctl',
    opnum: 15,
    ndr64: false,
    request:
      '49b10000060000000000000006000000440055004d004d0059000000d43d00000f000000000000000f00000053006500720076006900630065007300' +
      '4100630074006900760065000000bfbf3f000000',
    response: '000000005090c69740bcec4a838604d2f4174fd000000000',
  },
  /** captures/06-impacket-psexec.pcap, request frame 108, answered by a FAULT */
  lab06_create: {
    iface: 'svcctl',
    opnum: 12,
    ndr64: false,
    request:
      '000000005090c69740bcec4a838604d2f4174fd00500000000000000050000006f004b00590059000000aaaa3d680000050000000000000005000000' +
      '6f004b00590059000000bfbfff010f001000000003000000000000001a000000000000001a0000002500730079007300740065006d0072006f006f00' +
      '740025005c00790052006c006100680054006a0047002e00650078006500000000000000000000000000000000000000000000000000000000000000',
    response: null,
  },
  /** captures/06-impacket-psexec.pcap, request frame 104, response frame 107 */
  lab06_openservice: {
    iface: 'svcctl',
    opnum: 16,
    ndr64: false,
    request: '000000005090c69740bcec4a838604d2f4174fd00500000000000000050000006f004b00590059000000bfbfff010f00',
    response: '000000000000000000000000000000000000000024040000',
  },
  /** captures/06-impacket-psexec.pcap, request frame 29, response frame 32 */
  lab06_shareenum: {
    iface: 'srvsvc',
    opnum: 15,
    ndr64: false,
    request: '547000000100000000000000010000000000abab010000000100000022bc00000000000000000000ffffffffffdb000000000000',
    response:
      '01000000010000000c0002000400000010000200040000001400020000000000180002001c0002000000000020000200240002000000000028000200' +
      '2c0002000300008030000200070000000000000007000000410044004d0049004e002400000000000d000000000000000d000000520065006d006f00' +
      '740065002000410064006d0069006e000000000003000000000000000300000043002400000000000e000000000000000e0000004400650066006100' +
      '75006c007400200073006800610072006500000005000000000000000500000064006f00630073000000000015000000000000001500000044006500' +
      '70006100720074006d0065006e007400200064006f00630075006d0065006e0074007300000000000500000000000000050000004900500043002400' +
      '000000001e000000000000001e00000049005000430020005300650072007600690063006500200028004c00610062002000660069006c0065002000' +
      '7300650072007600650072002900000004000000340002000000000000000000',
  },
  /** captures/07-psexec-footprint.pcap, request frame 49, answered by a FAULT */
  lab07_create: {
    iface: 'svcctl',
    opnum: 12,
    ndr64: false,
    request:
      '000000009d95543116185240a3b1ed0440d6ff6f090000000000000009000000500053004500580045005300560043000000aaaa7038000009000000' +
      '0000000009000000500053004500580045005300560043000000bfbfff010f001000000003000000000000001a000000000000001a00000025005300' +
      '79007300740065006d0052006f006f00740025005c00500053004500580045005300560043002e006500780065000000000000000000000000000000' +
      '00000000000000000000000000000000',
    response: null,
  },
  /** captures/08-smbexec-services.pcap, request frame 31, answered by a FAULT */
  lab08_create_smbexec: {
    iface: 'svcctl',
    opnum: 12,
    ndr64: false,
    request:
      '00000000f59082e307f5de4a8e90846f65ec8c4b070000000000000007000000420054004f00420054004f000000aaaa0d7f00000700000000000000' +
      '07000000420054004f00420054004f000000bfbfff010f001000000003000000000000008e000000000000008e000000250043004f004d0053005000' +
      '45004300250020002f00510020002f00630020006500630068006f00200063006400200020005e003e0020005c005c003100320037002e0030002e00' +
      '30002e0031005c00430024005c005f005f006f0075007400700075007400200032005e003e005e002600310020003e0020002500540045004d005000' +
      '25005c0065007800650063007500740065002e00620061007400200026002000250043004f004d005300500045004300250020002f00510020002f00' +
      '630020002500540045004d00500025005c0065007800650063007500740065002e00620061007400200026002000640065006c002000250054004500' +
      '4d00500025005c0065007800650063007500740065002e00620061007400000000000000000000000000000000000000000000000000000000000000',
    response: null,
  },
  /** captures/08-smbexec-services.pcap, request frame 63, answered by a FAULT */
  lab08_create_services: {
    iface: 'svcctl',
    opnum: 12,
    ndr64: false,
    request:
      '00000000cc60a221d7f60f4386e759cd8e4f17560b000000000000000b0000004c006100620055007000640061007400650072000000aaaafbd00000' +
      '0b000000000000000b0000004c006100620055007000640061007400650072000000bfbfff010f001000000002000000000000001e00000000000000' +
      '1e00000043003a005c00570069006e0064006f00770073005c00540065006d0070005c007300760063007500700064006100740065002e0065007800' +
      '6500000000000000000000000000000000000000000000000000000000000000',
    response: null,
  },
  /** captures/09-discovery.pcap, request frame 45, response not used */
  lab09_wkssvc: {
    iface: 'wkssvc',
    opnum: 0,
    ndr64: false,
    request: '24e800000a000000000000000a000000000000000000000000000000000000000000000064000000',
    response: null,
  },
  /** captures/09-discovery.pcap, request frame 61, response frame 64 */
  lab09_samr_connect: {
    iface: 'samr',
    opnum: 0,
    ndr64: false,
    request: '6fa600000000000000000002',
    response: '000000000fea9caf2ab7c149a0d245008d736bb300000000',
  },
  /** captures/09-discovery.pcap, request frame 65, response frame 68 */
  lab09_samr_enumdomains: {
    iface: 'samr',
    opnum: 6,
    ndr64: false,
    request: '000000000fea9caf2ab7c149a0d245008d736bb300000000ffffffff',
    response:
      '0000000000000200020000000400020002000000000000000800080008000200010000000e000e000c00020004000000000000000400000046005300' +
      '300031000700000000000000070000004200750069006c00740069006e0000000200000000000000',
  },
  /** captures/09-discovery.pcap, request frame 69, response frame 72 */
  lab09_samr_lookupdomain: {
    iface: 'samr',
    opnum: 5,
    ndr64: false,
    request: '000000000fea9caf2ab7c149a0d245008d736bb308000800212700000400000000000000040000004600530030003100',
    response: '0400020004000000010400000000000515000000dc93a5e7ec804f12ee0d6fc000000000',
  },
  /** captures/09-discovery.pcap, request frame 73, response frame 76 */
  lab09_samr_opendomain: {
    iface: 'samr',
    opnum: 7,
    ndr64: false,
    request: '000000000fea9caf2ab7c149a0d245008d736bb30000000204000000010400000000000515000000dc93a5e7ec804f12ee0d6fc0',
    response: '010000008fe04a22894101458a08685cb128a92e00000000',
  },
  /** captures/09-discovery.pcap, request frame 77, response frame 80 */
  lab09_samr_enumusers: {
    iface: 'samr',
    opnum: 13,
    ndr64: false,
    request: '010000008fe04a22894101458a08685cb128a92e0000000010000000ffffffff',
    response:
      '0100000000000200010000000400020001000000e80300000a000a000800020005000000000000000500000061006c00690063006500000001000000' +
      '00000000',
  },
  /** captures/09-discovery.pcap, request frame 195, response frame 198 */
  lab09_samr_openuser: {
    iface: 'samr',
    opnum: 34,
    ndr64: false,
    request: '01000000751f4fd95cd4c64b8bc8438dfd9588f600000002e8030000',
    response: '020000002c77b9a1e60ce44e86f9ec3c24c4583900000000',
  },
  /** captures/09-discovery.pcap, request frame 131, response frame 134 */
  lab09_lsa_openpolicy2: {
    iface: 'lsarpc',
    opnum: 44,
    ndr64: false,
    request: '0000000000000000000000000000000000000000000000000000000000080002',
    response: '01000000f4b1e5c5715c3047b9231c41be58393d00000000',
  },
  /** captures/09-discovery.pcap, request frame 139, response not used */
  lab09_lsa_lookupsids: {
    iface: 'lsarpc',
    opnum: 15,
    ndr64: false,
    request:
      '01000000f4b1e5c5715c3047b9231c41be58393d05000000aed000000500000081e6000098240000e9bb00007b370000212400000500000001050000' +
      '0000000515000000dc93a5e7ec804f12ee0d6fc0f401000005000000010500000000000515000000dc93a5e7ec804f12ee0d6fc0f501000005000000' +
      '010500000000000515000000dc93a5e7ec804f12ee0d6fc00002000005000000010500000000000515000000dc93a5e7ec804f12ee0d6fc0e8030000' +
      '05000000010500000000000515000000dc93a5e7ec804f12ee0d6fc0e903000000000000000000000100bfbf00000000',
    response: null,
  },
  /** shared corpus suricata-verify/smb2-07__20171220_smb_psexec_add_user.pcap, request frame 158, response frame 159 */
  sv_smb207_openscm: {
    iface: 'svcctl',
    opnum: 15,
    ndr64: false,
    request: '000002000400000000000000040000006400630031000000000000003f000f00',
    response: '00000000c255930e0aaf2c45910fe56e9bc0f91500000000',
  },
  /** shared corpus suricata-verify/smb2-07__20171220_smb_psexec_add_user.pcap, request frame 160, response frame 161 */
  sv_smb207_createwow64: {
    iface: 'svcctl',
    opnum: 45,
    ndr64: false,
    request:
      '00000000c255930e0aaf2c45910fe56e9bc0f91509000000000000000900000050005300450058004500530056004300000000000000020009000000' +
      '00000000090000005000530045005800450053005600430000000000ff010f001000000003000000000000001a000000000000001a00000025005300' +
      '79007300740065006d0052006f006f00740025005c00500053004500580045005300560043002e006500780065000000000000000000000000000000' +
      '00000000000000000000000000000000',
    response: '0000000000000000bd51a120f02e5845a493650a0ffb75be00000000',
  },
  /** shared corpus suricata-verify/smb2-07__20171220_smb_psexec_add_user.pcap, request frame 166, response frame 167 */
  sv_smb207_start: {
    iface: 'svcctl',
    opnum: 19,
    ndr64: false,
    request: '00000000213450fffb53144dae6a438660f607d40000000000000000',
    response: '00000000',
  },
  /** shared corpus suricata-verify/smb2-07__20171220_smb_psexec_add_user.pcap, request frame 280, response frame 281 */
  sv_smb207_control: {
    iface: 'svcctl',
    opnum: 1,
    ndr64: false,
    request: '00000000d2cde7d4019b144a9c44c934a540afb801000000',
    response: '1000000003000000010000000000000000000000020000000000000000000000',
  },
  /** shared corpus suricata-verify/smb2-07__20171220_smb_psexec_add_user.pcap, request frame 288, response frame 289 */
  sv_smb207_delete: { iface: 'svcctl', opnum: 2, ndr64: false, request: '00000000408459275a24174b9f16520af9858087', response: '00000000' },
  /** shared corpus suricata-verify/bug-5162__input.pcap, request frame 2941, response frame 2944 */
  sv_bug5162_create: {
    iface: 'svcctl',
    opnum: 12,
    ndr64: false,
    request:
      '00000000f02f4ba30d46e041b9fdea79ad65a59d1500000000000000150000004d004e004800480043004c005000450045004a004b004a0049004900' +
      '43004300490045004600480000000000e61200001500000000000000150000004d004e004800480043004c005000450045004a004b004a0049004900' +
      '43004300490045004600480000000000ff010f0010000000030000000000000082000000000000008200000070006f00770065007200730068006500' +
      '6c006c002e0065007800650020002d0063002000520065007300650074002d0043006f006d00700075007400650072004d0061006300680069006e00' +
      '6500500061007300730077006f0072006400000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '0000000000000000000000000000000000000000000000000000000000000000',
    response: '0000000000000000762290b8f05cd046a209c01736decd6900000000',
  },
  /** shared corpus suricata-verify/bug-5162__input.pcap, request frame 2945, response frame 2952 */
  sv_bug5162_start: {
    iface: 'svcctl',
    opnum: 19,
    ndr64: false,
    request: '00000000762290b8f05cd046a209c01736decd690000000000000000',
    response: '1d040000',
  },
  /** shared corpus suricata-verify/dcerpc+dcerpc-dce-stub-data-04__input.pcap, request frame 8, response frame 10 */
  sv_winreg_openhklm: {
    iface: 'winreg',
    opnum: 2,
    ndr64: false,
    request: '2cfdb50040aa010000000002',
    response: '00000000f672289cf057d811b005000c2987eae900000000',
  },
  /** shared corpus suricata-verify/dcerpc+dcerpc-dce-stub-data-04__input.pcap, request frame 12, response frame 14 */
  sv_winreg_openkey: {
    iface: 'winreg',
    opnum: 15,
    ndr64: false,
    request:
      '00000000f672289cf057d811b005000c2987eae95c005c00a8b914002e000000000000002e00000053004f004600540057004100520045005c004d00' +
      '6900630072006f0073006f00660074005c00570069006e0064006f00770073005c00430075007200720065006e007400560065007200730069006f00' +
      '6e005c00520075006e0000000000000003000000',
    response: '00000000f772289cf057d811b005000c2987eae900000000',
  },
  /** shared corpus suricata-verify/dcerpc+dcerpc-dce-stub-data-04__input.pcap, request frame 16, response frame 18 */
  sv_winreg_setvalue: {
    iface: 'winreg',
    opnum: 22,
    ndr64: false,
    request:
      '00000000f772289cf057d811b005000c2987eae90c000c0098da14000600000000000000060000004f00730061003300320000000100000018000000' +
      '4e0054004f0053004100330032002e00450058004500000018000000',
    response: '00000000',
  },
  /** shared corpus suricata-verify/smb-dce_iface__input.pcap, request frame 31, response frame 34 */
  sv_spoolss_adddriverex: {
    iface: 'spoolss',
    opnum: 89,
    ndr64: false,
    request:
      '000000000200000002000000f88900000300000073090000f2ca0000f50e00004f170000a6b200000500000000000000050000003100320033003400' +
      '0000abab0c000000000000000c000000570069006e0064006f00770073002000780036003400000063000000000000006300000043003a005c005700' +
      '69006e0064006f00770073005c00530079007300740065006d00330032005c00440072006900760065007200530074006f00720065005c0046006900' +
      '6c0065005200650070006f007300690074006f00720079005c006e0074007000720069006e0074002e0069006e0066005f0061006d00640036003400' +
      '5f0031003800620030006400330038006400640066006100650065003700320039005c0041006d006400360034005c0055004e004900440052005600' +
      '2e0044004c004c000000abab2700000000000000270000005c005c0077007300300032002e00630079006c006500720061002e006c00610062005c00' +
      '730065006300750072006900740079005c006d0069006d0069006c00690062002e0064006c006c000000abab20000000000000002000000043003a00' +
      '5c00570069006e0064006f00770073005c00530079007300740065006d00330032005c00770069006e0068007400740070002e0064006c006c000000' +
      '14800000',
    response: '05000000',
  },
  /** shared corpus suricata-verify/smb2-03-rule__smb2.pcap, request frame 22, response not used */
  sv_srvsvc_getinfo: {
    iface: 'srvsvc',
    opnum: 16,
    ndr64: false,
    request:
      '000002000a000000000000000a000000310030002e0030002e0030002e0031003200000005000000000000000500000073006d006200320000000000' +
      '01000000',
    response: null,
  },
  /** shared corpus zeek/raw_ntlm_in_smb.pcap, request frame 57, response frame 58 */
  zeek_lsa_getusername: {
    iface: 'lsarpc',
    opnum: 45,
    ndr64: false,
    request: '010000000f000000000000000f0000003100390032002e003100360038002e00350036002e0031003000310000000000000000000100000000000000',
    response:
      '40b90d000a000a0070a20d00050000000000000005000000470075006500730074000800c0fc960030b90d001e001e00d0750c000f00000000000000' +
      '0f00000054004500530054002d004600370044004600420043003300460045003900755400000000',
  },
  /** shared corpus zeek/raw_ntlm_in_smb.pcap, request frame 63, response not used */
  zeek_lsa_lookupnames: {
    iface: 'lsarpc',
    opnum: 14,
    ndr64: false,
    request:
      '000000006dfdb69a7b583e4f8e19657fccd71e5001000000010000002a002a000100000015000000000000001500000054004500530054002d004600' +
      '3700440046004200430033004600450039005c0047007500650073007400000000000000000000000100000000000000',
    response: null,
  },
  /** shared corpus zeek/raw_ntlm_in_smb.pcap, request frame 60, response frame 61 */
  zeek_lsa_openpolicy2: {
    iface: 'lsarpc',
    opnum: 44,
    ndr64: false,
    request:
      '010000000f000000000000000f0000003100390032002e003100360038002e00350036002e0031003000310000000000180000000000000000000000' +
      '0000000000000000010000000c0000000200010000080000',
    response: '000000006dfdb69a7b583e4f8e19657fccd71e5000000000',
  },
  /** shared corpus zeek/raw_ntlm_in_smb.pcap, request frame 34, response frame 35 */
  zeek_shareenum: {
    iface: 'srvsvc',
    opnum: 15,
    ndr64: false,
    request:
      '010000000f000000000000000f0000003100390032002e003100360038002e00350036002e0031003000310000000000010000000100000001000000' +
      '0000000000000000ffffffff0100000000000000',
    response:
      '0100000001000000d4570f0005000000804d150005000000606d1500030000806a6d1500486d1500000000005e6d15002e6d150000000000466d1500' +
      '066d150000000080146d1500e46c150000000080ea6c15000500000000000000050000004900500043002400000000000b000000000000000b000000' +
      '520065006d006f00740065002000490050004300000000000b000000000000000b00000053006800610072006500640044006f006300730000000000' +
      '010000000000000001000000000000000c000000000000000c0000004d00790020005000690063007400750072006500730000000100000000000000' +
      '0100000000006e00070000000000000007000000410044004d0049004e002400000000000d000000000000000d000000520065006d006f0074006500' +
      '2000410064006d0069006e000000000003000000000000000300000043002400000000000e000000000000000e000000440065006600610075006c00' +
      '7400200073006800610072006500000005000000e4570f000000000000000000',
  },
  /** shared corpus suricata-verify/smb2-04__20171220_smb_at_schedule.pcap, request frame 9, response frame 11 (NDR64) */
  sv_atsvc_jobadd64: {
    iface: 'atsvc',
    opnum: 0,
    ndr64: true,
    request:
      '00000200000000000b0000000000000000000000000000000b000000000000005c005c00610064006d0069006e002d00700063000000000060b0ce02' +
      '000000000000000000100000000002000000000010000000000000000000000000000000100000000000000063003a005c006d0069006d0069006b00' +
      '610074007a002e006500780065000000',
    response: '0200000000000000',
  },
  /** shared corpus suricata-verify/dcerpc+dcerpc-smb-ctxid__input.pcap, request frame 25, response frame 26 (NDR64) */
  sv_atsvc_ctxid64: {
    iface: 'atsvc',
    opnum: 0,
    ndr64: true,
    request:
      '00000200000000001100000000000000000000000000000011000000000000005c005c003100390032002e003100360038002e00350036002e003100' +
      '30003100000000000000000060fceb0200000000000000000010000000000200000000002d0000000000000000000000000000002d00000000000000' +
      '220063006d00640020002f0063002000770068006f0061006d0069002e0065007800650020003e00200063003a005c00770069006e0064006f007700' +
      '73005c00740065006d0070005c00610074002e0074007800740022000000',
    response: '0000000032000000',
  },
  /** shared corpus suricata-verify/smb2-06__20171220_smb_net_user.pcap, request frame 21, response frame 22 (NDR64) */
  sv_samr_connect5_64: {
    iface: 'samr',
    opnum: 64,
    ndr64: true,
    request:
      '00000200000000001400000000000000000000000000000014000000000000005c005c004400430031002e0063006f006e0074006f0073006f002e00' +
      '6c006f00630061006c0000003000000001000000010000000300000000000000',
    response: '01000000010000000300000000000000000000006b286c73460fed43b222fbf8b730570900000000',
  },
  /** shared corpus suricata-verify/smb2-06__20171220_smb_net_user.pcap, request frame 25, response frame 26 (NDR64) */
  sv_samr_lookupdomain64: {
    iface: 'samr',
    opnum: 5,
    ndr64: true,
    request:
      '000000006b286c73460fed43b222fbf8b7305709000000000e0010000000000000000200000000000800000000000000000000000000000007000000' +
      '0000000043004f004e0054004f0053004f00',
    response: '00000200000000000400000000000000010400000000000515000000dabd392d369415ba583d52dd00000000',
  },
  /** shared corpus suricata-verify/smb2-06__20171220_smb_net_user.pcap, request frame 31, response frame 32 (NDR64) */
  sv_samr_lookupnames64: {
    iface: 'samr',
    opnum: 17,
    ndr64: true,
    request:
      '000000002da9713e22e7e044ba99f6dea816561301000000e803000000000000000000000000000001000000000000000a000c000000000000000200' +
      '0000000006000000000000000000000000000000050000000000000072006f006e0068006400',
    response:
      '010000000000000000000200000000000100000000000000560400000000000001000000000000000000020000000000010000000000000001000000' +
      '00000000',
  },
  /** shared corpus suricata-verify/smb2-06__20171220_smb_net_user.pcap, request frame 33, response frame 34 (NDR64) */
  sv_samr_openuser64: {
    iface: 'samr',
    opnum: 34,
    ndr64: true,
    request: '000000002da9713e22e7e044ba99f6dea81656131b01020056040000',
    response: '000000003804245830d8c94aabe4545f0bfb2add00000000',
  },
  /** shared corpus suricata-verify/smb2-06__20171220_smb_net_user.pcap, request frame 107, response not used (NDR64) */
  sv_lsa_lookupnames3_64: {
    iface: 'lsarpc',
    opnum: 68,
    ndr64: true,
    request:
      '0000000075a3aa314b586b49bf54872d7e532d5a0100000001000000000000001a001c000000000000000200000000000e0000000000000000000000' +
      '000000000d0000000000000043004f004e0054004f0053004f005c0072006f006e006800640000000000000000000000000000000000000000000000' +
      '01000000000000000000000002000000',
    response: null,
  },
  /** shared corpus jasonlue-pcap/smb-on-windows-10.pcapng, request frame 874, response frame 877 (NDR64) */
  jl_shareenum64: {
    iface: 'srvsvc',
    opnum: 15,
    ndr64: true,
    request:
      '00000200000000001200000000000000000000000000000012000000000000005c005c003100390032002e003100360038002e003100390039002e00' +
      '31003300330000000000000001000000000000000100000000000000000002000000000000000000000000000000000000000000ffffffff00000000' +
      '0000000000000000',
    response:
      '010000000000000001000000000000000000020000000000030000000000000000000200000000000300000000000000000002000000000000000080' +
      '000000000000020000000000000002000000000000000080000000000000020000000000000002000000000003000080000000000000020000000000' +
      '070000000000000000000000000000000700000000000000410044004d0049004e002400000000000d0000000000000000000000000000000d000000' +
      '00000000520065006d006f00740065002000410064006d0069006e000000000000000000030000000000000000000000000000000300000000000000' +
      '43002400000000000e0000000000000000000000000000000e00000000000000440065006600610075006c0074002000730068006100720065000000' +
      '00000000050000000000000000000000000000000500000000000000490050004300240000000000000000000b000000000000000000000000000000' +
      '0b00000000000000520065006d006f00740065002000490050004300000000000300000000000000000000000000000000000000',
  },
  /** suricata-verify/dcerpc+zerologon__input.pcap, request frame 573, response frame 574: accepted after 20 refusals */
  zerologon_auth3: {
    iface: 'rpc_netlogon',
    opnum: 26,
    ndr64: false,
    request:
      '6a2b00000c000000000000000c0000005c005c004200410053002d00410044002d003000310000000b000000000000000b0000004200410053002d00' +
      '410044002d00300031002400000006000a000000000000000a0000004200410053002d00410044002d003000310000000000000000000000ffff2f21',
    response: '84ab11d0b783d133ffff2f21e803000000000000',
  },
  /** suricata-verify/dcerpc+zerologon__input.pcap, request frame 581, response frame 584 */
  zerologon_set2: {
    iface: 'rpc_netlogon',
    opnum: 30,
    ndr64: false,
    request:
      '32b900000c000000000000000c0000005c005c004200410053002d00410044002d003000310000000b000000000000000b0000004200410053002d00' +
      '410044002d00300031002400000006000a000000000000000a0000004200410053002d00410044002d00300031000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000' +
      '000000000000000000000000000000000000000000000000000000000000000000000000',
    response: '01edd22d7e4efce80000000000000000',
  },
  /** suricata-verify/dcerpc+dcerpc-ctxids__input.pcap, frame 14: impacket dcomexec's activation */
  dcomexec_activation: {
    iface: 'isystemactivator',
    opnum: 3,
    ndr64: false,
    request:
      '0500070001000000000000009a87db93eb5a844f97be637a19b65b220000000000000200f0020000f00200004d454f5704000000a201000000000000' +
      'c0000000000000463803000000000000c00000000000004600000000c8020000b80200000000000001100800ccccccccb000000000000000b8020000' +
      'c00000000000000002000000060000000000000000000000000000000000000000000200040002000000000006000000b901000000000000c0000000' +
      '00000046ab01000000000000c000000000000046a501000000000000c000000000000046a601000000000000c000000000000046a401000000000000' +
      'c000000000000046aa01000000000000c0000000000000460600000068000000580000009000000058000000200000003000000001100800cccccccc' +
      '5800000000000000ffffffff000000000000000000000000050000000000000000000000000000000000000000000000100000000200000000000000' +
      '00000000000000000000000000000000000000000000000000000000000000000000000001100800cccccccc48000000000000001a79b249aeb1904c' +
      '9b8ee860ba07f8891000000000000000000000000100000000000000000002005800000005000700010000000100000000000000c000000000000046' +
      '0000000001100800cccccccc800000000000000000000000000000000000000000000000000002000000000060000000600000004d454f5704000000' +
      'c001000000000000c0000000000000463b03000000000000c000000000000046000000003000000001000100131abf5cb4552b4893e365ad93d42850' +
      '0200000000000000000000000000000000000000000000000100000001100800cccccccc480000000000000000000000000002000000000000000000' +
      '0400020000000000000000000f000000000000000f0000003100390032002e003100360038002e00350036002e003100300031000000000001100800' +
      'cccccccc10000000000000000000000000000000000000000000000001100800cccccccc200000000000000000000000000002000200000001000000' +
      '040002000100000007000000000000008ae3137102f4367102402800a001000000000000c00000000000004600000000045d888aeb1cc9119fe80800' +
      '2b10486002000000',
    response: null,
  },
  /** suricata-verify/dcerpc+dcerpc-ctxids__input.pcap, frame 516: ExecuteShellCommand through IDispatch::Invoke */
  dcomexec_invoke: {
    iface: 'dispatch',
    opnum: 6,
    ndr64: false,
    request:
      '0500070000000000000000009a87db93eb5a844f97be637a19b65b220000000036000000000000000000000000000000000000000000000003000000' +
      '0000020000000000040000000000000004000000557365725573657255736572557365720500000000000000080000000000000008000000b94b9cc4' +
      '010000000200000001000000370000000800000000000000080000000000000008000000394d9cc40b000000160000000b0000002f00630020006800' +
      '6f00730074006e0061006d0065000000020000000500000000000000080000000000000008000000a9469cc400000000000000000000000055005200' +
      '0600000000000000080000000000000008000000a9439cc403000000060000000300000063006d0064000000000000000000000000000000',
    response: null,
  },
} satisfies Record<string, Fixture>;

type Name = keyof typeof FIXTURES;

function run(name: Name, opts: { noResponse?: boolean } = {}): Record<string, string> | null {
  const f: Fixture = FIXTURES[name];
  const req = Buffer.from(f.request, 'hex');
  const resp = f.response && !opts.noResponse ? Buffer.from(f.response, 'hex') : null;
  return decodeArgs(f.iface, f.opnum, req, resp, true, f.ndr64);
}

const H06 = '000000005090c69740bcec4a838604d2f4174fd0';

describe('svcctl on real stubs', () => {
  it('impacket psexec: OpenSCManagerW, OpenServiceW, CreateServiceW (06-impacket-psexec)', () => {
    expect(run('lab06_openscm')).toEqual({ machine_name: 'DUMMY', database: 'ServicesActive', scm_handle: H06 });
    expect(run('lab06_openservice')).toEqual({
      handle: H06,
      service_name: 'oKYY',
      service_handle: '0'.repeat(40),
      error: 'ERROR_SERVICE_DOES_NOT_EXIST', // 0x424, tshark: "Return code: Unknown (0x00000424)"
    });
    expect(run('lab06_create')).toEqual({
      handle: H06,
      service_name: 'oKYY',
      display_name: 'oKYY',
      service_type: '0x00000010',
      start_type: 'DEMAND',
      binary_path: '%systemroot%\\yRlahTjG.exe',
    });
  });

  it('PsExec footprint and smbexec command lines (07, 08)', () => {
    expect(run('lab07_create')).toMatchObject({
      service_name: 'PSEXESVC',
      binary_path: '%SystemRoot%\\PSEXESVC.exe',
      start_type: 'DEMAND',
    });
    expect(run('lab08_create_smbexec')).toMatchObject({
      service_name: 'BTOBTO',
      binary_path:
        '%COMSPEC% /Q /c echo cd  ^> \\\\127.0.0.1\\C$\\__output 2^>^&1 > %TEMP%\\execute.bat & %COMSPEC% /Q /c %TEMP%\\execute.bat & del %TEMP%\\execute.bat',
      start_type: 'DEMAND',
    });
    expect(run('lab08_create_services')).toMatchObject({
      service_name: 'LabUpdater',
      binary_path: 'C:\\Windows\\Temp\\svcupdate.exe',
      start_type: 'AUTO',
    });
  });

  it('Sysinternals PsExec (smb2-07): CreateServiceWOW64W, StartServiceW, ControlService, DeleteService', () => {
    expect(run('sv_smb207_openscm')).toEqual({ machine_name: 'dc1', scm_handle: '00000000c255930e0aaf2c45910fe56e9bc0f915' });
    expect(run('sv_smb207_createwow64')).toEqual({
      handle: '00000000c255930e0aaf2c45910fe56e9bc0f915',
      service_name: 'PSEXESVC',
      display_name: 'PSEXESVC',
      service_type: '0x00000010',
      start_type: 'DEMAND',
      binary_path: '%SystemRoot%\\PSEXESVC.exe',
      service_handle: '00000000bd51a120f02e5845a493650a0ffb75be',
    });
    expect(run('sv_smb207_start')).toEqual({ handle: '00000000213450fffb53144dae6a438660f607d4' });
    expect(run('sv_smb207_control')).toEqual({ handle: '00000000d2cde7d4019b144a9c44c934a540afb8', control: 'STOP' });
    expect(run('sv_smb207_delete')).toEqual({ handle: '00000000408459275a24174b9f16520af9858087' });
  });

  it('bug-5162: CreateServiceW with a PowerShell command, StartServiceW timing out', () => {
    expect(run('sv_bug5162_create')).toMatchObject({
      service_name: 'MNHHCLPEEJKJIICCIEFH',
      binary_path: 'powershell.exe -c Reset-ComputerMachinePassword',
      service_handle: '00000000762290b8f05cd046a209c01736decd69',
    });
    expect(run('sv_bug5162_start')).toEqual({ handle: '00000000762290b8f05cd046a209c01736decd69', error: 'ERROR_SERVICE_REQUEST_TIMEOUT' });
  });

  it('keeps the request keys when the response is missing (FAULT)', () => {
    expect(run('sv_bug5162_create', { noResponse: true })).not.toHaveProperty('service_handle');
  });
});

describe('srvsvc, wkssvc, samr, lsarpc on real stubs', () => {
  it('NetShareEnumAll level 1 (06, zeek raw_ntlm_in_smb)', () => {
    expect(run('lab06_shareenum')).toEqual({ server: '', level: '1', share_count: '4', shares: 'ADMIN$, C$, docs, IPC$' });
    expect(run('zeek_shareenum')).toEqual({
      server: '192.168.56.101',
      level: '1',
      share_count: '5',
      shares: 'IPC$, SharedDocs, My Pictures, ADMIN$, C$',
    });
  });

  it('NetShareGetInfo (smb2-03) and NetWkstaGetInfo (09)', () => {
    expect(run('sv_srvsvc_getinfo')).toEqual({ server: '10.0.0.12', share: 'smb2', level: '1' });
    expect(run('lab09_wkssvc')).toEqual({ server: '', level: '100' });
  });

  it('samr discovery (09-discovery)', () => {
    const sid = 'S-1-5-21-3886388188-307200236-3228503534';
    expect(run('lab09_samr_connect')).toEqual({ access: '0x02000000', server_handle: '000000000fea9caf2ab7c149a0d245008d736bb3' });
    expect(run('lab09_samr_enumdomains')).toMatchObject({ domains: 'FS01, Builtin' });
    expect(run('lab09_samr_lookupdomain')).toMatchObject({ domain: 'FS01', domain_sid: sid });
    expect(run('lab09_samr_opendomain')).toMatchObject({ domain_sid: sid, domain_handle: '010000008fe04a22894101458a08685cb128a92e' });
    expect(run('lab09_samr_enumusers')).toMatchObject({ users: 'alice' });
    expect(run('lab09_samr_openuser')).toMatchObject({ rid: '1000', user_handle: '020000002c77b9a1e60ce44e86f9ec3c24c45839' });
  });

  it('lsarpc (09-discovery, zeek raw_ntlm_in_smb)', () => {
    expect(run('lab09_lsa_openpolicy2')).toEqual({ policy_handle: '01000000f4b1e5c5715c3047b9231c41be58393d' });
    const base = 'S-1-5-21-3886388188-307200236-3228503534';
    expect(run('lab09_lsa_lookupsids')).toEqual({
      handle: '01000000f4b1e5c5715c3047b9231c41be58393d',
      sid_count: '5',
      sids: [500, 501, 512, 1000, 1001].map((r) => `${base}-${r}`).join(', '),
    });
    expect(run('zeek_lsa_getusername')).toEqual({ system_name: '192.168.56.101', user: 'Guest', domain: 'TEST-F7DFBC3FE9' });
    expect(run('zeek_lsa_openpolicy2')).toMatchObject({ system_name: '192.168.56.101' });
    expect(run('zeek_lsa_lookupnames')).toMatchObject({ names: 'TEST-F7DFBC3FE9\\Guest' });
  });
});

describe('winreg and spoolss on real stubs', () => {
  it('Run-key persistence: OpenHKLM, OpenKey, SetValue (dcerpc-dce-stub-data-04)', () => {
    expect(run('sv_winreg_openhklm')).toEqual({
      hive: 'HKLM',
      access: '0x02000000',
      key_handle: '00000000f672289cf057d811b005000c2987eae9',
    });
    expect(run('sv_winreg_openkey')).toMatchObject({ key: 'SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run' });
    expect(run('sv_winreg_setvalue')).toEqual({
      handle: '00000000f772289cf057d811b005000c2987eae9',
      value_name: 'Osa32',
      type: 'REG_SZ',
      data_size: '24',
      data: 'NTOSA32.EXE',
    });
  });

  it('PrintNightmare-style AddPrinterDriverEx (smb-dce_iface)', () => {
    expect(run('sv_spoolss_adddriverex')).toEqual({
      level: '2',
      driver_name: '1234',
      environment: 'Windows x64',
      driver_path: 'C:\\Windows\\System32\\DriverStore\\FileRepository\\ntprint.inf_amd64_18b0d38ddfaee729\\Amd64\\UNIDRV.DLL',
      data_file: '\\\\ws02.cylera.lab\\security\\mimilib.dll',
      config_file: 'C:\\Windows\\System32\\winhttp.dll',
      flags: '0x8014',
      error: 'ERROR_ACCESS_DENIED',
    });
  });
});

describe('NDR64 stubs from Windows clients', () => {
  it('atsvc NetrJobAdd (smb2-04, dcerpc-smb-ctxid)', () => {
    expect(run('sv_atsvc_jobadd64')).toEqual({
      server: '\\\\admin-pc',
      job_time: '13:05',
      flags: '0x00000010',
      command: 'c:\\mimikatz.exe',
      job_id: '2',
    });
    expect(run('sv_atsvc_ctxid64')).toMatchObject({
      job_time: '13:37',
      command: '"cmd /c whoami.exe > c:\\windows\\temp\\at.txt"',
      error: 'ERROR_NOT_SUPPORTED',
    });
  });

  it('samr and lsarpc of net user /domain (smb2-06)', () => {
    expect(run('sv_samr_connect5_64')).toMatchObject({
      server: '\\\\DC1.contoso.local',
      server_handle: '000000006b286c73460fed43b222fbf8b7305709',
    });
    expect(run('sv_samr_lookupdomain64')).toMatchObject({ domain: 'CONTOSO', domain_sid: 'S-1-5-21-758758874-3121976374-3713154392' });
    expect(run('sv_samr_lookupnames64')).toMatchObject({ names: 'ronhd', rids: '1110' });
    expect(run('sv_samr_openuser64')).toMatchObject({ rid: '1110' });
    expect(run('sv_lsa_lookupnames3_64')).toMatchObject({ names: 'CONTOSO\\ronhd' });
  });

  it('srvsvc NetShareEnumAll (jasonlue smb-on-windows-10)', () => {
    expect(run('jl_shareenum64')).toEqual({ server: '\\\\192.168.199.133', level: '1', share_count: '3', shares: 'ADMIN$, C$, IPC$' });
  });

  it('read as NDR20 they give nothing beyond the context handle (the same 20 bytes in both)', () => {
    for (const name of ['jl_shareenum64', 'sv_atsvc_jobadd64', 'sv_samr_lookupnames64'] as Name[]) {
      const f: Fixture = FIXTURES[name];
      const got = decodeArgs(f.iface, f.opnum, Buffer.from(f.request, 'hex'), f.response ? Buffer.from(f.response, 'hex') : null, true);
      expect(Object.keys(got ?? {}).filter((k) => k !== 'handle')).toEqual([]);
    }
  });
});

describe('hostile stubs never throw or hang', () => {
  const all = Object.keys(FIXTURES) as Name[];

  it('every truncation of every real request and response gives null or a subset of the true keys', () => {
    for (const name of all) {
      const f: Fixture = FIXTURES[name];
      const req = Buffer.from(f.request, 'hex');
      const resp = f.response ? Buffer.from(f.response, 'hex') : null;
      const full = decodeArgs(f.iface, f.opnum, req, resp, true, f.ndr64) ?? {};
      for (let n = 0; n <= req.length; n++) {
        const got = decodeArgs(f.iface, f.opnum, req.subarray(0, n), null, true, f.ndr64);
        for (const [k, v] of Object.entries(got ?? {})) {
          // a string cut mid-way is still a prefix of the real one; every other key is exact
          expect(typeof v).toBe('string');
          // (IDispatch::Invoke's arguments are on the wire last to first: a cut stub has the last ones)
          if (k in full && v !== full[k]) expect(full[k].startsWith(v.replace(/…\[\d+ more\]$/, '')) || k === 'error' || (k === 'strings' && full[k].endsWith(v))).toBe(true);
        }
      }
      if (resp) for (let n = 0; n <= resp.length; n++) decodeArgs(f.iface, f.opnum, null, resp.subarray(0, n), true, f.ndr64);
    }
  });

  it('the other byte order and the other transfer syntax do not throw', () => {
    for (const name of all) {
      const f: Fixture = FIXTURES[name];
      const req = Buffer.from(f.request, 'hex');
      const resp = f.response ? Buffer.from(f.response, 'hex') : null;
      expect(() => decodeArgs(f.iface, f.opnum, req, resp, false, f.ndr64)).not.toThrow();
      expect(() => decodeArgs(f.iface, f.opnum, req, resp, true, !f.ndr64)).not.toThrow();
    }
  });

  it('0xff-filled counts and random bytes are refused quickly', () => {
    const ff = Buffer.alloc(4096, 0xff);
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const t0 = Date.now();
    for (const key of TABLE.keys()) {
      const [iface, op] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
      for (const ndr64 of [false, true]) {
        expect(() => decodeArgs(iface, op, ff, ff, true, ndr64)).not.toThrow();
        for (let i = 0; i < 30; i++) {
          const b = Buffer.alloc(64 + (rnd() << 2));
          for (let j = 0; j < b.length; j++) b[j] = rnd();
          expect(() => decodeArgs(iface, op, b, b, (i & 1) === 0, ndr64)).not.toThrow();
        }
      }
    }
    expect(Date.now() - t0).toBeLessThan(10000);
  });

  it('real stubs with one count word set to 0xffffffff', () => {
    for (const name of all) {
      const f: Fixture = FIXTURES[name];
      const req = Buffer.from(f.request, 'hex');
      for (let off = 0; off + 4 <= req.length; off += 4) {
        const b = Buffer.from(req);
        b.writeUInt32LE(0xffffffff, off);
        expect(() => decodeArgs(f.iface, f.opnum, b, null, true, f.ndr64)).not.toThrow();
      }
    }
  });

  it('unknown operations and empty stubs give null', () => {
    expect(decodeArgs('svcctl', 999, Buffer.alloc(8), null, true)).toBeNull();
    expect(decodeArgs('nosuch', 12, Buffer.alloc(8), null, true)).toBeNull();
    expect(decodeArgs('svcctl', 12, null, null, true)).toBeNull();
    expect(decodeArgs('svcctl', 12, Buffer.alloc(0), Buffer.alloc(0), true)).toBeNull();
    expect(hasDecoder('svcctl', 12)).toBe(true);
    expect(hasDecoder('svcctl', 0)).toBe(false);
    expect(hasDecoder('taskschedulerservice', 1)).toBe(true);
  });
});

/** NDR20 writer for the operations no capture holds (task scheduler, eventlog, DCSync, shutdown) */
class W {
  private parts: Buffer[] = [];
  private len = 0;
  constructor(private le = true) {}
  private push(b: Buffer): this {
    this.parts.push(b);
    this.len += b.length;
    return this;
  }
  align(n: number): this {
    const pad = (n - (this.len % n)) % n;
    return pad ? this.push(Buffer.alloc(pad, 0xaa)) : this;
  }
  u8(v: number): this {
    return this.push(Buffer.from([v]));
  }
  u16(v: number): this {
    this.align(2);
    const b = Buffer.alloc(2);
    if (this.le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return this.push(b);
  }
  u32(v: number): this {
    this.align(4);
    const b = Buffer.alloc(4);
    if (this.le) b.writeUInt32LE(v >>> 0);
    else b.writeUInt32BE(v >>> 0);
    return this.push(b);
  }
  u64(v: bigint): this {
    this.align(8);
    const b = Buffer.alloc(8);
    if (this.le) b.writeBigUInt64LE(v);
    else b.writeBigUInt64BE(v);
    return this.push(b);
  }
  raw(b: Buffer): this {
    return this.push(b);
  }
  handle(fill = 0x11): this {
    return this.u32(0).raw(Buffer.alloc(16, fill));
  }
  /** wchar_t characters in the stub's byte order */
  private wchars(s: string): Buffer {
    const b = Buffer.from(s, 'utf16le');
    return this.le ? b : b.swap16();
  }
  wstr(s: string): this {
    const n = s.length + 1;
    this.u32(n).u32(0).u32(n);
    return this.raw(this.wchars(s + '\0'));
  }
  uwstr(s: string | null, ref = 0x20000): this {
    return s === null ? this.u32(0) : this.u32(ref).wstr(s);
  }
  /** RPC_UNICODE_STRING passed by [ref]: header, then the buffer */
  ustr(s: string): this {
    const bytes = 2 * s.length;
    this.u16(bytes)
      .u16(bytes + 2)
      .u32(0x20004);
    return this.u32(s.length + 1)
      .u32(0)
      .u32(s.length)
      .raw(this.wchars(s));
  }
  get buf(): Buffer {
    return Buffer.concat(this.parts);
  }
}

describe('operations without a capture (synthetic NDR20)', () => {
  it('big-endian CreateServiceW reads the same as little-endian', () => {
    for (const le of [true, false]) {
      const w = new W(le)
        .handle()
        .wstr('evil')
        .uwstr('Evil Service')
        .u32(0xf01ff)
        .u32(0x10)
        .u32(2)
        .u32(1)
        .wstr('C:\\evil.exe -x')
        .u32(0)
        .u32(0)
        .u32(0)
        .u32(0)
        .uwstr('LocalSystem')
        .u32(0)
        .u32(0);
      const resp = new W(le).u32(0).handle(0x22).u32(1073);
      expect(decodeArgs('svcctl', 12, w.buf, resp.buf, le)).toEqual({
        handle: '00000000' + '11'.repeat(16),
        service_name: 'evil',
        display_name: 'Evil Service',
        service_type: '0x00000010',
        start_type: 'AUTO',
        binary_path: 'C:\\evil.exe -x',
        account: 'LocalSystem',
        service_handle: '00000000' + '22'.repeat(16),
        error: 'ERROR_SERVICE_EXISTS',
      });
    }
  });

  it('StartServiceW arguments and ChangeServiceConfigW with SERVICE_NO_CHANGE', () => {
    const start = new W().handle().u32(2).u32(0x20000).u32(2).u32(0x20004).u32(0x20008).wstr('-k').wstr('netsvcs');
    expect(decodeArgs('svcctl', 19, start.buf, null, true)).toMatchObject({ argv: '-k netsvcs' });
    const change = new W()
      .handle()
      .u32(0xffffffff)
      .u32(4)
      .u32(0xffffffff)
      .uwstr('cmd.exe /c calc')
      .u32(0)
      .u32(0)
      .u32(0)
      .u32(0)
      .u32(0)
      .u32(0)
      .u32(0)
      .u32(0);
    expect(decodeArgs('svcctl', 11, change.buf, null, true)).toEqual({
      handle: '00000000' + '11'.repeat(16),
      start_type: 'DISABLED',
      binary_path: 'cmd.exe /c calc',
    });
  });

  it('SchRpcRegisterTask: command, arguments and principal from the task XML', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-16"?><Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">' +
      '<Principals><Principal id="LocalSystem"><UserId>S-1-5-18</UserId><RunLevel>HighestAvailable</RunLevel></Principal></Principals>' +
      '<Settings><Hidden>true</Hidden></Settings><Actions Context="LocalSystem"><Exec><Command>cmd.exe</Command>' +
      '<Arguments>/C whoami &gt; %windir%\\Temp\\x.tmp 2&gt;&amp;1</Arguments></Exec></Actions></Task>';
    const w = new W().uwstr('\\XblGameSaveTask').wstr(xml).u32(6).u32(0).u32(3).u32(0).u32(0);
    const resp = new W().u32(0x20000).wstr('\\XblGameSaveTask').u32(0).u32(0);
    expect(decodeArgs('ITaskSchedulerService', 1, w.buf, resp.buf, true)).toEqual({
      task_path: '\\XblGameSaveTask',
      command: 'cmd.exe',
      arguments: '/C whoami > %windir%\\Temp\\x.tmp 2>&1',
      run_as: 'S-1-5-18',
      hidden: 'true',
      flags: '0x6',
      logon_type: '3',
      actual_path: '\\XblGameSaveTask',
    });
    const run = new W().wstr('\\XblGameSaveTask').u32(0).u32(0).u32(0).u32(0).u32(0);
    expect(decodeArgs('ITaskSchedulerService', 12, run.buf, null, true)).toEqual({ task_path: '\\XblGameSaveTask' });
    const del = new W().wstr('\\XblGameSaveTask').u32(0);
    expect(decodeArgs('ITaskSchedulerService', 13, del.buf, new W().u32(0x80070002).buf, true)).toEqual({
      task_path: '\\XblGameSaveTask',
      error: '0x80070002',
    });
  });

  it('task XML scanning survives odd XML', () => {
    const out: Record<string, string> = {};
    taskXml('<Exec><Command>a.exe<Command><Arguments>x', out);
    expect(out).toEqual({});
    taskXml('<Exec ><CommandLine>no</CommandLine><Command><![CDATA[b & c.exe]]></Command></Exec>', out);
    expect(out).toEqual({ command: 'b & c.exe' });
    const big: Record<string, string> = {};
    taskXml('<Exec>' + '<Command'.repeat(100000), big);
    expect(big).toEqual({});
  });

  it('eventlog: ElfrOpenELW and ElfrClearELFW', () => {
    const open = new W().u32(0x20000).u16(0).ustr('Security').ustr('').u32(1).u32(1);
    expect(decodeArgs('eventlog', 7, open.buf, new W().handle(0x33).u32(0).buf, true)).toEqual({
      module_name: 'Security',
      log_handle: '00000000' + '33'.repeat(16),
    });
    const clear = new W().handle(0x33).u32(0x20000).ustr('C:\\x.evtx');
    expect(decodeArgs('eventlog', 0, clear.buf, new W().u32(0xc0000022).buf, true)).toEqual({
      handle: '00000000' + '33'.repeat(16),
      backup_file: 'C:\\x.evtx',
      error: 'STATUS_ACCESS_DENIED',
    });
    expect(decodeArgs('eventlog', 0, new W().handle(0x33).u32(0).buf, null, true)).toEqual({ handle: '00000000' + '33'.repeat(16) });
  });

  it('winreg QueryValue: the status is the return value after the out parameters, not the lpType pointer', () => {
    const q = new W().handle().ustr('ProductName').u32(0x20000).u32(0x20004).u32(0).u32(0).u32(0x20008).u32(0x2000c);
    // lpType (ptr, REG_SZ), lpData (ptr, conformant varying of 0), lpcbData (ptr, 22), lpcbLen (ptr, 22), ERROR_MORE_DATA
    const more = new W().u32(0x000c6d40).u32(1).u32(0x000c6d44).u32(0).u32(0).u32(0).u32(0x000c6d48).u32(22).u32(0x000c6d4c).u32(22).u32(234);
    expect(decodeArgs('winreg', 17, q.buf, more.buf, true)).toMatchObject({ value_name: 'ProductName', error: 'ERROR_MORE_DATA' });
    const ok = new W().u32(0x000c6d40).u32(1).u32(0).u32(0).u32(0).u32(0);
    expect(decodeArgs('winreg', 17, q.buf, ok.buf, true)).not.toHaveProperty('error');
  });

  it('winreg: SaveKey, CreateKey, InitiateSystemShutdownEx', () => {
    const save = new W().handle().ustr('C:\\Windows\\Temp\\sam.save').u32(0);
    expect(decodeArgs('winreg', 20, save.buf, new W().u32(0).buf, true)).toMatchObject({ file: 'C:\\Windows\\Temp\\sam.save' });
    const create = new W().handle().ustr('SYSTEM\\CurrentControlSet\\Services\\x').ustr('').u32(0).u32(0x2000000).u32(0).u32(0);
    const cresp = new W().handle(0x44).u32(0x20000).u32(1).u32(0);
    expect(decodeArgs('winreg', 6, create.buf, cresp.buf, true)).toMatchObject({
      key: 'SYSTEM\\CurrentControlSet\\Services\\x',
      key_handle: '00000000' + '44'.repeat(16),
      disposition: 'created',
    });
    const shut = new W().u32(0).u32(0x20000).ustr('bye').u32(30).u8(1).u8(1).u32(0x80020002);
    expect(decodeArgs('winreg', 30, shut.buf, null, true)).toEqual({
      message: 'bye',
      timeout: '30',
      force: 'true',
      reboot: 'true',
      reason: '0x80020002',
    });
  });

  it('drsuapi DsGetNCChanges V8 and V10: the naming context (DCSync)', () => {
    for (const version of [8, 10]) {
      const nc = 'DC=contoso,DC=local';
      const w = new W().handle().u32(version).u32(version).align(8);
      w.raw(Buffer.alloc(32, 1)).u32(0x20000); // uuidDsaObjDest, uuidInvocIdSrc, pNC
      w.u64(0n).u64(0n).u64(0n).u32(0); // usnvecFrom, pUpToDateVecDest
      w.u32(0x30).u32(1000).u32(0x100000).u32(0).u64(0n); // flags, max objects/bytes, exop, fsmo
      w.u32(0).u32(0).u32(0).u32(0); // partial attr sets, prefix table
      if (version === 10) w.u32(0);
      w.u32(nc.length + 1)
        .u32(0)
        .u32(0)
        .raw(Buffer.alloc(16))
        .raw(Buffer.alloc(28))
        .u32(nc.length);
      w.raw(Buffer.from(nc + '\0', 'utf16le'));
      expect(decodeArgs('drsuapi', 3, w.buf, null, true)).toEqual({ version: String(version), nc });
    }
  });

  it('samr account changes: CreateUser2InDomain and AddMemberToAlias', () => {
    const create = new W().handle().ustr('backdoor$').u32(0x10).u32(0xf07ff);
    const resp = new W().handle(0x55).u32(0xf07ff).u32(1105).u32(0);
    expect(decodeArgs('samr', 50, create.buf, resp.buf, true)).toEqual({
      handle: '00000000' + '11'.repeat(16),
      name: 'backdoor$',
      account_type: '0x00000010',
      user_handle: '00000000' + '55'.repeat(16),
      rid: '1105',
    });
    const add = new W()
      .handle()
      .u32(5)
      .u8(1)
      .u8(5)
      .raw(Buffer.from([0, 0, 0, 0, 0, 5]))
      .u32(21)
      .u32(1)
      .u32(2)
      .u32(3)
      .u32(1105);
    expect(decodeArgs('samr', 31, add.buf, null, true)).toMatchObject({ member_sid: 'S-1-5-21-1-2-3-1105' });
  });

  it('spoolss AddMonitor and AddPrintProcessor', () => {
    const mon = new W()
      .u32(0)
      .u32(2)
      .u32(2)
      .u32(0x20000)
      .u32(0x20004)
      .u32(0x20008)
      .u32(0x2000c)
      .wstr('m')
      .wstr('Windows x64')
      .wstr('evil.dll');
    expect(decodeArgs('spoolss', 46, mon.buf, null, true)).toEqual({ monitor: 'm', environment: 'Windows x64', dll: 'evil.dll' });
    const pp = new W().u32(0).wstr('Windows x64').wstr('evil.dll').wstr('pp');
    expect(decodeArgs('spoolss', 14, pp.buf, null, true)).toEqual({ environment: 'Windows x64', path: 'evil.dll', print_processor: 'pp' });
  });
});

// Found in the review of lateral movement on the corpus (2026-12-02): Zerologon and dcomexec
describe('netlogon and DCOM on real stubs', () => {
  it('Zerologon: NetrServerAuthenticate3 with a zero client credential, NetrServerPasswordSet2 to zeros ([MS-NRPC] 3.5.4.4.2, 3.5.4.4.5)', () => {
    expect(run('zerologon_auth3')).toEqual({
      server: '\\\\BAS-AD-01', account: 'BAS-AD-01$', channel_type: 'ServerSecureChannel', computer_name: 'BAS-AD-01',
      client_credential: '0000000000000000', negotiate_flags: '0x212fffff', account_rid: '1000',
    });
    // the server's return authenticator (01edd22d…) is not the request's zero one
    expect(run('zerologon_set2')).toEqual({
      server: '\\\\BAS-AD-01', account: 'BAS-AD-01$', channel_type: 'ServerSecureChannel', computer_name: 'BAS-AD-01',
      authenticator_credential: '0000000000000000', new_password: 'all zeros',
    });
    // cut anywhere, what was read is kept and nothing throws
    const req = Buffer.from(FIXTURES.zerologon_set2.request, 'hex');
    for (let n = 0; n < req.length; n += 7) expect(() => decodeArgs('rpc_netlogon', 30, req.subarray(0, n), null, true)).not.toThrow();
    expect(decodeArgs('rpc_netlogon', 30, req.subarray(0, 200), null, true)).toMatchObject({ account: 'BAS-AD-01$' });
  });
  it('dcomexec: the MMC20.Application activation and the ExecuteShellCommand arguments in the call\'s order', () => {
    expect(run('dcomexec_activation')).toEqual({ clsid: '49b2791a-b1ae-4c90-9b8e-e860ba07f889', class: 'MMC20.Application' });
    expect(run('dcomexec_invoke')).toEqual({ strings: '"cmd", "/c hostname", "7"' });
    // an unknown class is not named
    const other = Buffer.from(FIXTURES.dcomexec_activation.request, 'hex');
    const at = other.indexOf(Buffer.from('1a79b249aeb1904c9b8ee860ba07f889', 'hex'));
    expect(at).toBeGreaterThan(0);
    other[at] ^= 0xff;
    expect(decodeArgs('isystemactivator', 3, other, null, true)).toBeNull();
  });
});
