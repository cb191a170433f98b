"""Checksums of the restoration image sets: generated from the MANIFEST.tsv/SOURCE.txt of the
verified copies (each file's git blob re-computed and matched at the named commit); Set14 and
Urban100 from the git objects of the named commit itself (CSet14: 14 PNG, 13 RGB and bridge.png
1-channel, man.png RGB with equal channels; CUrban100: 100 RGB PNG at their original sizes).

SETS[name] = (repository, commit, source folder in the repository, {file: (md5, sha256)})
"""

SETS = {
    "BSD68": (
        "cszn/DnCNN",
        "e93b27812d3ff523a3a79d19e5e50d233d7a8d0a",
        "testsets/BSD68",
        {
            "test001.png": (
                "83db3a1ecc8f9cf7435f8d8b12041a31",
                "94ddd662377347ca7b07d5a11c2a83feff658723cf31f79bfa75f65713e94ee4",
            ),
            "test002.png": (
                "844059ab411a7e5bb6da4ebe43636935",
                "7dabadb169c463d7bd7da110c36d486846c8c787883b6fc979257d44e09b3a29",
            ),
            "test003.png": (
                "ec5946e9c04dcfb83d888ac3a711fce9",
                "d27b8117a1b175b594f80de162e81776c8587e2e512fa4d07fbaeacb67c97949",
            ),
            "test004.png": (
                "ba9cb358b385f21adfc3d93244b9291b",
                "3ceebbbf583e355fefcdb9e653bff65451b20a512f1c4ca12a0518f4569b481c",
            ),
            "test005.png": (
                "8f3957d39596099b00aed8893ff02bb2",
                "d187d8b58e5d19b4aa6e055b849064fb974cad7b18083c25f6580a1ba17d6bb3",
            ),
            "test006.png": (
                "61fc6dd5097d607142ec9ab3bd42eeaa",
                "c184fc29e6668cbb15ae42c52cb68a36b4179d19ba5dbc4393f395ccc8f14aec",
            ),
            "test007.png": (
                "3350a9a57d946c1cb3d8b2645ddcdc47",
                "d13c69290e9783d2b5c1ed2acd3e51ba5ac3b6c8731fe26141d250a5e3f042e9",
            ),
            "test008.png": (
                "d76af91140e6a862221c2344537e1a63",
                "be55c170e63f28a2e7899687e083b42e6a8c9e465913dfaf4d2b444567856933",
            ),
            "test009.png": (
                "164f47f10e8e59b40af653221cc305bb",
                "ba0ad02a3f761ffab2fc23a26705944fc1983d0b51ecff3600d137bec465a98b",
            ),
            "test010.png": (
                "fa337f97e64148fbe229aac3a6d0698b",
                "fbe5bd8cfdfc8232db92e4f31a7cb1acc2f7540a64cbd3bd4aa7d32f67669c15",
            ),
            "test011.png": (
                "be477814a89a23b0e87cc73f0dce40dd",
                "ddbb6e31f8279db81d04215c2868de748c66e31a30f48f066b44c6837ace5c20",
            ),
            "test012.png": (
                "5103cc561f941f444a54d930fe97807d",
                "3a6330f054a1c16e8307446c303648bc87828ba6282af6586482349fc50d19ef",
            ),
            "test013.png": (
                "752399305e30555900dc7aec12d5485c",
                "28f32a8b20cb9469ad6df196c0b4f92eb73a3c6483904d8a56cb2331a26d1494",
            ),
            "test014.png": (
                "69c69e3bdb9c3cf922ac9ee9c78d5793",
                "61c904019033176fb7a41b6a6f6727ffcb11e702b0a4dc14d8b583b41c9d8926",
            ),
            "test015.png": (
                "d955bce901c652d73bb29b3b07241617",
                "38dc56d13f8606ad8a07c88192885f9f2d7015e46006ae250a7c41fa8fa1b136",
            ),
            "test016.png": (
                "217a1f44d8de93910d70862657f662a5",
                "ed5cbdb3402a36eb7032b54fa11bc1845d9bd08a6c95ed621773e0ac56b398f6",
            ),
            "test017.png": (
                "d8fee67c1543f527e8638dde0bd7193d",
                "f0c1604265e5cacfea684562bed7a0d610d72ffa668c0694bf9143271a84242b",
            ),
            "test018.png": (
                "d767c9989e0147203069084f992ad8ef",
                "3540e6c59c0c62f5e673ca4955b8ca8ffe2853cbe51ac82d89f5741755ce464b",
            ),
            "test019.png": (
                "efe3778f560081a507c382277d31bc5d",
                "8bbfcc1d035e25c6bb541215a653ffea2a5b729b367aa2c68b33084c6c3e00b6",
            ),
            "test020.png": (
                "add687d01e03f705dab68e19b428b3e3",
                "3775d6efddca1dcca090742ad1448f0fa48a25bc24ce4eca7ed765532c9c3f39",
            ),
            "test021.png": (
                "092dc33ca542ce7a19a8a4c41430ca3e",
                "0a757d926afa75d83c7bffce2de33e05d6ca12cdef6a4d4187deca751edbf107",
            ),
            "test022.png": (
                "2d152ea3307bc16812da7a8bad3c21f5",
                "b797e008601c61ff11dfa936be139ec52a5333d41949cb7ceecd5afb3826bef6",
            ),
            "test023.png": (
                "b026e24aedc815ed04c4a13557756bec",
                "6b09da52d43e5ae5d60780439ad3a753e9769efd26045187e9dd63e02d3b46dc",
            ),
            "test024.png": (
                "7974bd03e17a3bd07a1b3e08835584b4",
                "67ab076e3b3f1d39182627d2405897a879b09b40ebe6b33e1bf4532e5f746fc5",
            ),
            "test025.png": (
                "14fb8231767d624e0963bfab79253c92",
                "792b825650b4c4e553144dd69de37b519859e023535f5bba317abf5dbbac2957",
            ),
            "test026.png": (
                "f9d97da7260ac643f9dd8149e16c727d",
                "86a6acba42db469bcb716a299cbca5839757798fe8c61db85e62e9278261df1b",
            ),
            "test027.png": (
                "076641c7f86f4a353e62a4da61280100",
                "cc4e573ee4979d06fb04050eb1f9e68f7eebbe43cdd9b75e4627ec2b0c795c18",
            ),
            "test028.png": (
                "8e74f3f5e7ef0f369ad8226b46bdfe0c",
                "549b2639e72f6825fda7c2cc456cce4ea97ffcbd1f2bca5f6cded351da769d6f",
            ),
            "test029.png": (
                "f4773e4435748b70cfa08687cfdc255c",
                "49351b50363c087dd1687ad10e7d98804eb81546eb378250cf7549c74c863836",
            ),
            "test030.png": (
                "c8fbeb6c9e314b6404404b725ad3dba1",
                "bd70a77c744cb56045489afac9efac6749fbf6f1e22abc2cddcbfe947579ae1e",
            ),
            "test031.png": (
                "792ec8f832a1d99d61fbed09f186b1d7",
                "671fba87a6c54610728ef8130c36f255c198b70055064cfc5cdc961e08e6c132",
            ),
            "test032.png": (
                "6469e065122ed29d03a93e6243c5a1d2",
                "cc734bc7d9ed080286e4dca3a4f9d242870c76881989c2e0dd3fd83d8dc13468",
            ),
            "test033.png": (
                "12f93c4595cc398cef4de32293eecdea",
                "790f437a438f4254762ec4d4a4aefa6c16334fedb5137848154d45ce765ab80b",
            ),
            "test034.png": (
                "5db484baaf0c6836d0a2f64542704af3",
                "7a7b04301e6b260473baa3fdbbbb04d2b07c6e0bae541d43484402f5202cef5b",
            ),
            "test035.png": (
                "e030aad33d65ec705f7781d9878f63c6",
                "f10990d3da8a55198f64bce464d59417bcbd719945dd1e95b46c3ed37bef3963",
            ),
            "test036.png": (
                "92d05bf37abab8c0728afabe89a444f2",
                "bca7b2561ac285d92b624bea36a9b663e3646e38f090e3236e5c7267ab99988c",
            ),
            "test037.png": (
                "82295c828c274a568d73c66545ff810b",
                "c04809c41445b37b2b17cfbdf0342dfa891c9854a57866dabed27c499ab8a803",
            ),
            "test038.png": (
                "eea84691cd2d640b9a165ae9f510b2f7",
                "a076c1f412a65ca94ba712b8158a13b93502732f3e8470a5c1367fc3d1134fe2",
            ),
            "test039.png": (
                "569d43331aec5d017ea2280e5ad54393",
                "2c5c513bcc633ca5a3639ce4c45d89cdb400e6748fcd7c668aacaa04f9d045d5",
            ),
            "test040.png": (
                "a44b5422c94185d1de2230017043dab1",
                "f79ef5e81e07c003736d1af6ddb616fb8f29f7747769315adf591ad515e726fc",
            ),
            "test041.png": (
                "31c4fc11857efc83d26c9268168f68c7",
                "646c912a3e15bcd228ed49f6de5c63a32f82dbbbb36b15529ecddeff91e495e5",
            ),
            "test042.png": (
                "26e46e9632c89fc68f874cdb156a265d",
                "78cab10bcad2df64cbd0fc17ce0cb5af95ff98cbb1ee27f2664eccea93d555c2",
            ),
            "test043.png": (
                "42fe824926a335aa85ccf878c8ee31c6",
                "5ae7bac9730294377d5ca0e711facff8aa7bdc388d46feb7fa23398d055455ec",
            ),
            "test044.png": (
                "71068c9c4db0e269c722f1f670e6ee6a",
                "cedc1ec61bde1eb220abe22d3753546ddae9e2600c38901721c3f7c1d4fd8f3e",
            ),
            "test045.png": (
                "8b557d25a0fb3fa1b6685e023f9c9fb2",
                "ba387a966b0980d984bc4a34823ff70f33b207c13c62256f2be7a55a30e9aa9b",
            ),
            "test046.png": (
                "7513aa8fae6c49a965ab88fbb370b2ce",
                "52ed8a3381605a00da47f1306ce4d2c71c5310bf49c6b9ada2a194146854db53",
            ),
            "test047.png": (
                "c9723499572dcf2f394f086edfdc3f45",
                "55021821543280a66567f78112fa84e8b6e0c0a21f38d15c013c3de7127f4acf",
            ),
            "test048.png": (
                "38ec0d10e8bc7bf2468103376d91c6ed",
                "f303f403f3a6574a2f45c7594ce390a80b1677e35ee74b9c31edf54fa8e4f7c8",
            ),
            "test049.png": (
                "a8c3175eae9df72923849b4c13fc5b41",
                "a9864e710ad5e3feaa08ac114bbe05714466b888cb16a689ac2489e2d5b0d7e5",
            ),
            "test050.png": (
                "21715328e9fd18a5ce8e575337734897",
                "24cb8d9565e5469ef6e336cb7ab26f98c85a3b1d09aef0d67e79940a5ef257ac",
            ),
            "test051.png": (
                "d689fe3d4168481d37d11227145cb418",
                "3c12ea89553d44808bc4fb44f9558878cb96cdc994590c877c6d2faca2fc72c4",
            ),
            "test052.png": (
                "873ff562a73e008c339d69e37783c163",
                "7bf722086b02521cbf254648b24462b97a63869a85d160c1c410bb0fbe8533ac",
            ),
            "test053.png": (
                "2cd41ea2a77feeac7cef80db2726b82a",
                "235bbd5e9e72ece8e9cf439d1c95f89d41a94efd5e0e48ff6eaa053e5f0378de",
            ),
            "test054.png": (
                "6cd69a4e031a3d77a3ca300c923c51d6",
                "ae319876af64a54390e312e11e405eed0ab85707e55c1b54106e5dd25e2406bf",
            ),
            "test055.png": (
                "57fd4eb63ba1da870428fb7b6aa3301d",
                "ab39e645bd055dc0d4f10ccedad26d54712745828860f9153cfc99094eb38a1e",
            ),
            "test056.png": (
                "c837ebc62bb9faddbc27eaf5322df2f3",
                "87c7e3c0112781479ae9196952a13c33364168c366b4a546f6bd185c6be7efd6",
            ),
            "test057.png": (
                "8c7aa02e271cb7600a1245c9c88d5a75",
                "83b32759876dd2b3d024e78823bf414830a2e1433d74f0500cbb6dcd6e0a13e3",
            ),
            "test058.png": (
                "0ad2c72bfb44e176f62657e1a62ff146",
                "e321bae2f2802b76ae00b279aa04450434c7b20c0b38ad956cb91f74b3ca9e0f",
            ),
            "test059.png": (
                "8b41a54cf5964ad55096cd373cdf084c",
                "88232cf229ae887c088cc76ce8a0f43e83761432956732fb5f2fb87c691574fd",
            ),
            "test060.png": (
                "8d8f5718bb644406984aacb9a06f579e",
                "8f900a9ea1da160e442ce5b62ed139fe651f6d35171371314f813a301f3b3c4b",
            ),
            "test061.png": (
                "54f6747ac9cd5bb0c1a36d0459692838",
                "09c5e1cb5b17d6073358dd1df9385a7bec3ddaccb34124060de6e30b9fa80481",
            ),
            "test062.png": (
                "dcd19b8ea98a686af0c549fa27b4ded8",
                "7697d1cb6007fa4d01455508d3436ff936a0e1915a3fb17dbc95ec332a7232c3",
            ),
            "test063.png": (
                "0e4838588c85235a6925c4714054f9b0",
                "6b9171d3a2db8e5784a211c2a1d94de02b147acdd04f603d6df6c29db6b38700",
            ),
            "test064.png": (
                "a2022d20e2f308dbfe581ed9d8a69bce",
                "1f705d2e47aeea31d31bc13cb02024cccdb268ea19adb8b5487d4a899e0a9e1b",
            ),
            "test065.png": (
                "2fa15eeee8f5ff59051bd41eaaebb727",
                "8ccba9966431cd0928054c49b4b70ffd95a25b821b6d6d6f3de9090bb57781ab",
            ),
            "test066.png": (
                "2ba55aad76cb60313aa517f909669b71",
                "473d35176134c1bb2ad3d7e915c5e7f397d625f1245f5d7cb23bdfd46ad36485",
            ),
            "test067.png": (
                "1f31d3419e95b4475bf6f6e8ff7daf45",
                "b045137f029e1c406ba0cec6363d1d09fcfd1ff01298682e98066770cc302fd6",
            ),
            "test068.png": (
                "df5d9ee884657e6ad170ec42eae6ba10",
                "26fcaab8eeb61b86e4ed9aa8dcb23c2b6ee652ca3ea7ff545e7e27610dec2c7c",
            ),
        },
    ),
    "CBSD68": (
        "cszn/FFDNet",
        "e787f46df2f374ff3591186706229cb9a0591fea",
        "testsets/CBSD68",
        {
            "101085.png": (
                "de1822e48e411053119c89586f812d26",
                "728930f013122b3a8dd038efab0792782137962ae7424176d580c87f3c560b6a",
            ),
            "101087.png": (
                "777fe2365e8bba97b63f872a3166a90b",
                "9bd21e8887ea1ab4820e8614e42dbfb37ee330716637507e1593d4658c3c253f",
            ),
            "102061.png": (
                "0e9ef6bd066b8692b2ae936a7090ba11",
                "8bb146be5bfd09e238e8751877f0bd0e065cab9dda20bc8e9d4e7b30129c94f1",
            ),
            "103070.png": (
                "fe52c4cbdea9d7c4a6cbbb3392ca4bcd",
                "10ac13a2ffac9ede3d065e524df9a8e79c553cc303fe730935b0f29d7884cc90",
            ),
            "105025.png": (
                "7785b9bd4ef8848aea7783c574336d78",
                "e4bcac97c8ebb80f7c30b6dafe64577af680709b84f3cd0ec16f30cb72c6e3c8",
            ),
            "106024.png": (
                "e058ff9e21bc99402b1d5bc285af784a",
                "a5a4cd7adff008fcc97b77cd80d9f27855deabe5f2ad81cb10790c6b9c297ebd",
            ),
            "108005.png": (
                "8c4bb257d09993f220fa1b429b881f13",
                "74bd6aea65b7379d19ca3328eca1b09b6937aef28851e5b4457dedb3239bf022",
            ),
            "108070.png": (
                "2091f547eb82c378290759d6ee9be543",
                "54b222064c9a3bf4b778e6bf8f112b7d9e4a7008d9d4d985c851617c147d5169",
            ),
            "108082.png": (
                "10e4c9a1e509afc852d1ac0f517c1b3d",
                "dd67d1a1fc44e759e267363b5bc0be5efd95aa1177ab14f9e50170997a63d982",
            ),
            "109053.png": (
                "ba69bc8bf2f3d68df8ca82e1d7504767",
                "71d3843a9b5a665a848658312a6053e7a7da0af0094317833328e77b77e29f5b",
            ),
            "119082.png": (
                "b02d1995d39321a9a8fcb5df69b626cd",
                "e52de05206c86063b8c93e31402f97fe7942ed5655e3eb6c2e6d7b01de57887d",
            ),
            "12084.png": (
                "f86f1daa2c8c0c8b48176ae4b3c3de8b",
                "ae5b4b79fef64795ff2be425d02c9c5d6bdc8480cc9cf381db3ebd7cddcb0d0e",
            ),
            "123074.png": (
                "5c180e6fab45e8dfe16ecbdb2f093e5c",
                "010480676e00fd7f26c34054ef1e7f951396eed6bb32613f0a5ad03057aae4ea",
            ),
            "126007.png": (
                "6f6061e359a8b340173f30fa73e33b10",
                "74f0e5610a50552efc8e0f3ccaa48a5b5f92b9de77e560d02d262299396c5bf8",
            ),
            "130026.png": (
                "f0e76d56cdf54b2161be90485a6aef0d",
                "8f3fcd60117b450bf7c3d2648786921e5cd315954880dfb0e3e089d05637f276",
            ),
            "134035.png": (
                "a10abef00517ac908960c271232c7003",
                "ed5d90e93b19e0eb7103c6a999553c2e36259e66f5013c674b5c11ef18bca321",
            ),
            "14037.png": (
                "f62e4b4132be1eb9afca465232005b80",
                "b912eafbb74564b251bcefa3bb621c163ada16bb4073ec3e71e4507cae076da3",
            ),
            "143090.png": (
                "11ea2bb5d3e8dbe13f703ae75fe3517b",
                "5f853e0883c7321fae3276a97799ce8a109bc87d770e67f480d9bff681bae4ce",
            ),
            "145086.png": (
                "be51698ccf7d0074e1252b272dc136de",
                "bd4f523763889685ee9c992aa80cb319dcb707a632e3f6ff51be95dce3d7e9de",
            ),
            "147091.png": (
                "b341ec35023c23d4680fbd0735704d2b",
                "302df626c225bc8841c0176a5ec7d3f25fc52875f3c9ab37330a89ea0f241429",
            ),
            "148026.png": (
                "ed4259a109d28b3cf4b194a2d5863465",
                "c960466c058ebe25728225226974d79eccd60399b08cf0efd6648bae7696153f",
            ),
            "148089.png": (
                "72306cb2ef9a0e1d57432d7309d4908f",
                "dc7fa80ec7404af0937d2e2fd2378ee02aff2185d7e6e68b5d2758e818d14abe",
            ),
            "157055.png": (
                "977afc0dde1afc880b3d3d3dba2efad5",
                "1502d3f4c8839b08765b19dec1c264f5a3234f02f7bbff2d48b998003da7706a",
            ),
            "159008.png": (
                "b9a13b8c2c8a94117980b4c336afbc2e",
                "d7c1aa98313e6b96b92af9828a34c90ea0f51502693772af1dbed9c950e0f3b8",
            ),
            "160068.png": (
                "0bf39ca4deffbda53ba2e312a68c3301",
                "1ff3b5dbbfbd1d014fba184cf9ed82e881bb8727418dcea10c3e1d84e65bf880",
            ),
            "16077.png": (
                "3768a92a489277c508d04e7786b5e0cb",
                "91f622fd634ea20ed3fec00062650379839e24d3943f10cbbd6c97e262a127db",
            ),
            "163085.png": (
                "0b294bf3f894713f108fd8efbe25d639",
                "1f58f5cd31c00334e38d14264fceef114fb7d958187ded82bf09f19f894adddd",
            ),
            "167062.png": (
                "4b91016481ba2cfa928bd6bab1221a84",
                "6ce71248c20d35bd59c10c8623d18502005b231b6430a5b967b859edb4bed101",
            ),
            "167083.png": (
                "3e4b8a232a50dc5c92ad461c13c4c8a1",
                "59878a27cd05fab3b2c629cfaa5243b44ecc8352c2969660a6363cd78c7530b7",
            ),
            "170057.png": (
                "b025ba0636d103b528cbb085b8e31b1c",
                "5507d8205148540d172dd40aa0c1fc07298d73351dd18a8980ff0d033f62d89f",
            ),
            "175032.png": (
                "4cdda17ce2ee24da8c79e8a7568a5c39",
                "818c0249759eac78fb933c1f35e72b9358bd2c2902d8db0ef5aaf88e8ce1c78f",
            ),
            "175043.png": (
                "3a003b37f92bb04db029e76741b8ab6c",
                "661b9deb5cbb956c18a6298b53d4a188584103bdeff4cefd415c858d094e51da",
            ),
            "182053.png": (
                "04a4d91a91e0b31377f2bfde9b9f93dc",
                "3543814626f50cba23ea39cfc8449160bd5e9d23ce79427e2fa0dbedf51529ff",
            ),
            "189080.png": (
                "abb9cf8f6c5c35d850df5d506208116a",
                "a0561b8cdaf074a4461a1d7d509ae11851df81d8b5e78d622c35a0e763a1f878",
            ),
            "19021.png": (
                "49591495a327c574027ea00e26d8cb2a",
                "0eb3719f03f6d64bb855749b3631d86329652f6f585faf367a7f1b8d1c6a38c6",
            ),
            "196073.png": (
                "5e3dc4489cb9abe4e16d5c14bcaf84f0",
                "f46048c149e2246b731e07cc1d8b828d8a7c4e24efbe83f8cb1671a50da4cacb",
            ),
            "197017.png": (
                "972d87a392cbf05d778383d74e90552d",
                "bb584785dccca1bac843df70ce85cd9c7f2e219d013612ceac1e7c4632f70eb0",
            ),
            "208001.png": (
                "ee01cde4c056cec565314bb01360e0e0",
                "d9b7a3318a4d3d28a51cc1dd89ba8f6b5e54e99664a30e37c6fa95e9371830f6",
            ),
            "210088.png": (
                "a83283d530c1e943380ab787397124da",
                "d8bc8cc7dacda5b31205ec2acbe79548dbae4acb21dd5ff2c37f3166868410f5",
            ),
            "21077.png": (
                "aa16ee91a0419345bbd1250802eb7e1f",
                "8a25f49a01823055b44800c57710125caf20ba47ef43d63353f3c7cbc7fd2a62",
            ),
            "216081.png": (
                "a4f54e9a3948fe8eadcae5418e070105",
                "f173dcc973ba2d30e4a339dfb42d3970684d5a5ee2bf94d1d7afba125645c3c0",
            ),
            "219090.png": (
                "bdbb5d25f0580b024cee172adab0739d",
                "eae5439a6f090cb855e116349c6d2f0dc75c4b0fc1f321ddbd54108b4a0814bc",
            ),
            "220075.png": (
                "21b2b2340a1a8bd3a506e93c6381554f",
                "cd57b3b126f9df99f9dfdba925f8fe9647997f46b8ca21d56c2cd24e20a2da0c",
            ),
            "223061.png": (
                "64eded2b7a2f554bf9c869a0cddc07ca",
                "ce4d5dc962e35de2d8797f4208681b5f677314cb240f2b7523bdc4167bf17a81",
            ),
            "227092.png": (
                "2f69455389ef67ad9620a0fe8aa19260",
                "527a52bd1cc9bff1ba1306aa0cd2e5360a99a7baae20ecdc6b555517b1dca1d9",
            ),
            "229036.png": (
                "807f14e8070be1682f237482dee30e93",
                "551ff3d472c01626ec7d844c8df57395babdc4787d515de69ce4d488aa740dfa",
            ),
            "236037.png": (
                "bba67060182f39d0a120ff30417b813a",
                "94a9c48c3031f17ea0bb9aa9fa934a64832b130032ce88c2860628f0b7ba9683",
            ),
            "24077.png": (
                "c8da21105d70a0e663e449b31f3b2b0a",
                "227b148322970e2b4321efc94e1155773dd24ed1b83a29e36c26488f9ca56d42",
            ),
            "241004.png": (
                "17d9ebeef57c5b4ab5b4d3ef213cf7b4",
                "abda35d0064e8fb2ac1250afc7cf59eb68a911fc67166ddf6a07c0c9bc00de26",
            ),
            "241048.png": (
                "6dc0ee928e66c811c646398013528378",
                "17e16350f28ad8b730285875d301cd703046e6f4da17ca8beff56853445e0320",
            ),
            "253027.png": (
                "6fb7f4f031e179e80e1ca1d5be6f7363",
                "bc82f560cd96e36e1931b07a917a3aa2c9f23cd761894496d6040bb2ef10dfb2",
            ),
            "253055.png": (
                "177a15cdd13f43a7f653a37cbd96e6bc",
                "dfee71b92b4f9249badb9191cd1809156076fd60a4c06b8201dc0ce901248b60",
            ),
            "260058.png": (
                "4af849ce3a6ec05d2d4b8b12e92978d0",
                "d2c3752f0eb867ea0716dce082ae7e6e7049c180a5f8ad133896048a0ff51cf2",
            ),
            "271035.png": (
                "183ddf8d22e87355f9096d14dd0f3570",
                "325d6b06eb92141fa04fe85215a57556a5a5798c4c0069c462af969f6e22e236",
            ),
            "285079.png": (
                "11fc05d9f069f9afc963cabd844e92fa",
                "570c78b6bc20c0325a09077520631fe338b05b41ea983076fd536cdb9a588563",
            ),
            "291000.png": (
                "d29d016f73e7ef6b3e87e7c993ae73a8",
                "3922b3013c08df357b62008c76b18999c9fc851ad094944078e0830d2005e6fa",
            ),
            "295087.png": (
                "a1bf3a6539e69fb8941439f3ea0c2b09",
                "5bb069fca2edacb409074733cc01f60f9eb67f56267e11fc0cee3d94a59d018f",
            ),
            "296007.png": (
                "53d09fe599e12cf4f96d48d78b09e72b",
                "54f5531e29e6ea2edd7faeee8d40a6e7b0c0ebfb9f4ea6bf0d62d097a1b4d418",
            ),
            "296059.png": (
                "cdaa7b67c9467b246339f5d2e3212a7b",
                "cef7442078e4816f318f4d4eac94c0edcd7d3abf1adf0a81a22289c3c8822db7",
            ),
            "299086.png": (
                "4eaa2f778571116d7b33dac94bcc428c",
                "f79e12530418ba5598bcfc630f88214ea9e14d6346aa2241bbd7d7fec2146c75",
            ),
            "300091.png": (
                "98ebe58d1cbaf766e183b2b18477a54d",
                "f2d7452aa683b701384c9b48992941b3776d223f426f47be93a92e7fe50917df",
            ),
            "302008.png": (
                "19f27db9211dc5495e6a1641920a7e1c",
                "573eb125df61533d3acc52297f39229fdb106490d65363269a0be60fd388552a",
            ),
            "304034.png": (
                "f1e0896862922d20fb2fc210da2b1480",
                "3f0eb1020b1c9050597519820000429caacf52156cb76b0dc50ebb47194296cc",
            ),
            "304074.png": (
                "0b6f79c8ab96712529c227f2b8a42b68",
                "4bacdc6cde1965fcabbf6be7cdafd69307bce5fdcaa28cac05933bf587409515",
            ),
            "306005.png": (
                "44eabd6a8454f5f15df8d4b4ddd229c6",
                "aaff1715bffdf33245181493bb946f6c9243c8a72f3b2eb4db019e8b504aceab",
            ),
            "3096.png": (
                "aa240d44e6dc789bcd6fdcb4a18125a4",
                "cfb0bf09e2204a8073f0c6bbbf0a2fe9624c9de0709206e0be78843c4b140f09",
            ),
            "33039.png": (
                "396d4790405e493085c95dc9d2ca128f",
                "c120304970c037f44214743b175c28b1b0d5caea1263e78b5fea156aca7cb664",
            ),
            "351093.png": (
                "fb536b25347ec7f87abb833779823992",
                "f9dc764a64ed52a1abad50d4c1e890d73211d823ed4a440d24d9518d85a2931d",
            ),
        },
    ),
    "Set12": (
        "cszn/KAIR",
        "fc1732f4a4514e42ce15e5b3a1e18c828af47a1e",
        "testsets/set12",
        {
            "01.png": (
                "07f292bddfb4c4dbde998cf8425a0aeb",
                "079229e13faff0a262a9d3eb9a7fa60868203f9b8545de6fb75aadf6fbca4296",
            ),
            "02.png": (
                "7d0c348d80be5456773ffb4be67e133c",
                "576b2b3b6ff4d7e6c8ddccb0df645774f9b986c81219c28e16ba1935990a0b29",
            ),
            "03.png": (
                "c2f94c3bbc38d08d6e7fe99887d89c67",
                "92de94d7b8ef9e645546821150eff5c765d0d29666f9bc7d20b61063f35c3305",
            ),
            "04.png": (
                "c7502d899202f75d0c71fb471ab2e1cc",
                "839fb4770a5a71ab80f18b04a3521b7464451bb3d3e3c6555d538247599fe843",
            ),
            "05.png": (
                "974226c952ffa9686a9db0bf71d0394e",
                "1707ee6fd18fe7d55a1ac7a2cc8818b1e5d5c4a1d6974d8cd4acc9e0f11025fc",
            ),
            "06.png": (
                "d5ed1d541431ce8ad6f9010afef01216",
                "02d125470b396b2c63fa428e65920a88e721d5558c54a5c0d25075c934bd0469",
            ),
            "07.png": (
                "8afe2ec98282e7f9e32dcbb2a49e5e74",
                "83d42aae735bde17c8e92e5c2544b07dd4ff2b77caaa64f5d3bcc34668f79597",
            ),
            "08.png": (
                "62483e324edcb2d55bc62b23d17d28cd",
                "f07124a0b4bb493660210c209070aa9c9187e9e085a9f026a51a2b9f57e25f15",
            ),
            "09.png": (
                "73c4b3758af64736831438b028ac4524",
                "764b8a2748cc7ad381cccc047c5e512cb528c197ba86adb83aa339e8932e66c0",
            ),
            "10.png": (
                "c869477c07abc66f71946b6548c7e93e",
                "18bea4de1634456f5791d16301863fc974401d144cd6afb86f09a6be4620fe54",
            ),
            "11.png": (
                "debd680644db9aa8f5bc29787d3b228f",
                "a8791afbd2af4f977f30c3a9a72a50204264440c27b1f4bb282a085eb680abe1",
            ),
            "12.png": (
                "81faa6c0aac6cad9ed3da67fe945413f",
                "f6acd12953db8c1f5a0dda53fef4233be37a61702cd22d5be742cf7c039021f2",
            ),
        },
    ),
    "Set14": (
        "majedelhelou/denoising_datasets",
        "58234876fef6f1b56306705c78dfd40cdb837b86",
        "CSet14",
        {
            "baboon.png": (
                "fcc6974ed04c24a7cd1e29bda67e22b2",
                "bf6fb300762bcbe1340098b4309c179b2007c3bb81b7afde18c38a3ae70ac8a9",
            ),
            "barbara.png": (
                "adb45afd1529af822e73e2d94eeead96",
                "1ea77fe82564b55230d7c2439bef5738d18a4624280e263be48484c002b6280b",
            ),
            "bridge.png": (
                "31d6f376829221e0a31d577d0259cda3",
                "c0eb089ad3dacfa96ee79d9c112216265b36aaba205e06f80846b03b21884a53",
            ),
            "coastguard.png": (
                "0a0388f43d7a06e1504aaae007a70ecc",
                "fc6c2acd5ca2116f37b1b38c0c2908ce64e2e414086fb43349c246d410669da6",
            ),
            "comic.png": (
                "446aa56cfa965f73944ffa7487ff3a5b",
                "49ccc5e33deff33992b929b07549d803f176e01bf9f41b73de6b15437bc2280d",
            ),
            "face.png": (
                "674a2ab5b4f5a297bd59dd107c9b0ab7",
                "5cc7a1c5c013b46a7ab4850cb709974d26971550106375a36fd641c725bce9aa",
            ),
            "flowers.png": (
                "8d81d9174b69ecc04f02a3a9567cef50",
                "609e9fc9ffd6c9689c6200a11e057c19e6e4ec5d385fe0d6eb59a7b24f327894",
            ),
            "foreman.png": (
                "fa801371f983686a2d156794d63ce684",
                "af4ad4771fd2def0a09ba0011e67225f10ad1590e85b48aab4f6820fa932b1ed",
            ),
            "lenna.png": (
                "06715beac9971712c1e4d354f0a78566",
                "72d70a7a5051c6193f02b03decb6c7b1d336abe2d024f441a2384acaee84af55",
            ),
            "man.png": (
                "56218a6b6dbcf0cd878b52fe83c04cf3",
                "ba7a7e45f690a542fc32fdefe1e04e0128d1cdf8c3817c1ee7b0300961636bfe",
            ),
            "monarch.png": (
                "da9e014d263abf1b8485ae761d21193f",
                "ed96187293a37c931250d137553928e1a9a63e31296b82a4968dde63683bb101",
            ),
            "pepper.png": (
                "bf7581c593549ad80ecd8cfdfd989c51",
                "46339a09e2ae31d2f0513642607586a00d82feaf48dc3cc770e42be5684a11a9",
            ),
            "ppt3.png": (
                "09c8f477b1b632dc857a2296c2f10815",
                "a9276fa3f7fbd4257ccede14d1004f836c10fcc2bac174b2428f43fe899b8f9d",
            ),
            "zebra.png": (
                "94b322814aa532a43af8acaec8b97507",
                "af146347f19b1ab9f1da26113a88505d600e2dcb84bf91bb8e2013691e79bcc7",
            ),
        },
    ),
    "Urban100": (
        "majedelhelou/denoising_datasets",
        "58234876fef6f1b56306705c78dfd40cdb837b86",
        "CUrban100",
        {
            "img_001.png": (
                "8bfa8c73d71a9b81939f7704ec1fa8e4",
                "7505cf2e689d5b53bfb0ee50229c4f6698b03fafe6b0df952dffb418d49d9634",
            ),
            "img_002.png": (
                "ee40ea38412bae5ace05ceccc39dc02f",
                "7ff144b68dc9d9177a4b91906b25a0c44817e63360f6d88782f84e792b03d881",
            ),
            "img_003.png": (
                "3c3589d0b957cd00e7cbc9fbc63bc2f1",
                "0c570832754b347f59305110d8b4c5df2315962fec05ab0c2fc742d278feef81",
            ),
            "img_004.png": (
                "befffa5bd8896a03229ef8f8962054f3",
                "9490e3baab9a6b406c24d167ab3000f6104e3a93fd05cdfec4dd585eccfd1f7b",
            ),
            "img_005.png": (
                "7628cf874bf4848310d5592c3c2f1deb",
                "682419775634cc7a3a46ddb89b643660f0c55ea0569bcd26de93e854ab1c75cd",
            ),
            "img_006.png": (
                "fc1354e9deb5bf5d94f2debe63cfeed5",
                "90cefb417513deb4e30ecc1a15ee8c7379caf52b2003e5e0eb963ac15f522ba0",
            ),
            "img_007.png": (
                "6bf97cd00bfa1c6fbbb74a48e62720d6",
                "d845d48147f4b42950948c5f8a32c426ed537e3861947be180b07f4a03172e83",
            ),
            "img_008.png": (
                "c48b911d5ee040afd5c60f215e4ee774",
                "b62264cdeffa4d1035f13ba1fbf6635c103eef8541a617073402c65596601774",
            ),
            "img_009.png": (
                "d7113c6b9d8350529ea94140e2f3ba25",
                "ad7a722a2d787299bd05b91c1b5f2dc51babc056a25e40876524b63b6d4fb1af",
            ),
            "img_010.png": (
                "126a9d9ac52165a065bf438adca56e1a",
                "ba89ea521d19fd38fb7585598fe2ef59f7794337bae0164f9ac6925b22ca73f4",
            ),
            "img_011.png": (
                "7cd0c4a83248d06165300513331b483d",
                "808135b39d4dd1f9a8b5a5026f52284d8365039d8f3661eff1619d0604687ea3",
            ),
            "img_012.png": (
                "0a45be28b1ba06103ac4b5b55814412b",
                "e16cba482064e751a389aa2725e77758e9a424bacea413f7e7b833fd5d186ec4",
            ),
            "img_013.png": (
                "d9e79b91db84fcbdeb184fbcfafd87fb",
                "1ea6f4575aa8108903e9604f042e752f72a07eccd76f94f146737837305c3939",
            ),
            "img_014.png": (
                "e0d453a78ceba2b7a1b1834174b2c394",
                "bd5c93cefefab3301ea166f4e871a9b3cbc88513b1b5e01fe957db0fbfc8699f",
            ),
            "img_015.png": (
                "052d1aa53ea895b3bb55c9f799f6226c",
                "ca9a0a6cb91cc695f5cd82a7cae28a8e9c6c45b98c273a0aa762610e1123dec8",
            ),
            "img_016.png": (
                "19c20d9b698151c0dfb641a684bd1ec9",
                "73cae0512e13688753199683d9298c7884707c047ec39a2ff07440f3ee7cb7e1",
            ),
            "img_017.png": (
                "0f74eb7757fdc8dbd1cd49eb292c877b",
                "3ae052668aa48b367de5675a2fc0225658f0d159f96f6657b672f043b61a2c68",
            ),
            "img_018.png": (
                "40e26aaf174599a31853e186b7fac03c",
                "298e6b719205876059c4cd1e939857af8c6e9445eb3e0003098d62f40bead2e9",
            ),
            "img_019.png": (
                "d5dc4fd33dc692c5202c2cc488c30d7b",
                "60b41dd35854657e417c9577cf9741a6c5cc374a0153cf8a1c4334d70d6fe6a2",
            ),
            "img_020.png": (
                "4ce7539c45d15a013560e11b8f38e774",
                "f78f356ca20b82206dbb1a189784d7ae968f7037f8911c4275c973850b8c4f77",
            ),
            "img_021.png": (
                "e0ba0ba634aff02ea5a08908c8caefca",
                "1666f5f0606d184251f1cb57b87321de6a06c2def607f887238426f4364a0756",
            ),
            "img_022.png": (
                "ab3bef9e43febf9df79947f2bf6b44e8",
                "db128d36e6acd82bcbc10259f7f06e8f9bd8a8bd65d98ecace27f451eca8815f",
            ),
            "img_023.png": (
                "e61f6361744fd8c62e49994085d1b274",
                "d3b6ceaef23f72954b6f81eeb7585a6a6516f9b7cfd9292b2726da905786282b",
            ),
            "img_024.png": (
                "32fc2c9ccb5e00baffc644c9203ff217",
                "90bd63810c30c3fda456f8760559a20666b6f42cd9117ad487a0f7d3e53105a2",
            ),
            "img_025.png": (
                "d11328279b3088d495091aa05ad51fa3",
                "33def2b1e48e75fa0aae550997aeb81c5107c68cb27ec91367aad898b57771b7",
            ),
            "img_026.png": (
                "118ef2713dd505c1b65458d3fd702a2c",
                "7f89168719760b45f388571d0b2ffd0c349cbaa92cc153c9f34faa10fe15f6b3",
            ),
            "img_027.png": (
                "c9e2b4e6aa406471adc1a36beccd2adb",
                "1f68fce3d85ff8b9102c0dcb17e67b3203e4f4ce051f443d618371ff5bb3522b",
            ),
            "img_028.png": (
                "718fcebb59e007b4a6299009c9a55a95",
                "3e3ab91b6faf8e6fc3d3be18cf113020300bab19362ee91fcc5a45cc598b392d",
            ),
            "img_029.png": (
                "bc1a8bd47e6198279e6fa46cb12cf77a",
                "38db05fad751b6f773bebf74506e54bd425d454bf49d69c62d06f0c79901805b",
            ),
            "img_030.png": (
                "1ceb2408ec22ade7dee623a024bf92f7",
                "8e938f82e2b52311d450a5fea97533f406ed1b744a20b19bc307ac5c38303fae",
            ),
            "img_031.png": (
                "f720d53609abbd0b9d65a71855e23497",
                "d9c8541971a69748b3184e79af008792c4404b225d61f53135beb1176947e6d4",
            ),
            "img_032.png": (
                "da23a510a21716223fdcc9f20ea44280",
                "9bae234ca8bfc9f6461509f54426815968fb35882be4c3e711e59e128ad24fd5",
            ),
            "img_033.png": (
                "e88a6dfa28bbdfa38bbc16acdf51cc4b",
                "13b895d9e393c1f6f3039a1103bbf0827fd2d1db9dd5e3c5092d16ab216d7141",
            ),
            "img_034.png": (
                "f695e520de63136a842684d0aba2f0fd",
                "e10e24fd61e69780bef342ffdfd1ed3b8fbd955927764718319fd856401a2122",
            ),
            "img_035.png": (
                "70a2c304ed337dd45cc85b5fa9c53f4f",
                "184fd2d69749dc650855a0b58184bbaee2b274e520826a56d1d4f680008d383f",
            ),
            "img_036.png": (
                "b8bc5553b03f5dea2c889c33afd655f7",
                "fd6fe8ad4e0fdf29de6a54366633d5660c229af632b0ad0a24781e5f78bd1043",
            ),
            "img_037.png": (
                "7d6b400bff74b8cf42f3325e68a3de59",
                "acc412301646a7d1451a598ebee8d224087b2720db0bdac68dee1c210c855ab1",
            ),
            "img_038.png": (
                "e1d75672db3400bdd1b4703e85ecb167",
                "1e930c7749f69109a29e8312c82a7ac199d021567f726399dfb9f827a1b33ab3",
            ),
            "img_039.png": (
                "e856b1c585ea43fda4ff497afc15f277",
                "fd603c80549d87302836169f804f2b3263a721b639447e5b67ac4f8f02260000",
            ),
            "img_040.png": (
                "8619d60363a732e753af619dd88e52a8",
                "565fa0182a422cfff4ed90c353324ed0d4dd9ae540bd33eb8a82f8b66bf1ffc9",
            ),
            "img_041.png": (
                "55144c6e5308c17800560feb476ac226",
                "9bea5ac5c1d24465f2a72ff683c73ddd7fc7d32173cb05e06859358521ec0c68",
            ),
            "img_042.png": (
                "ae7ad6e473a60ea8512087901422fa7c",
                "825d5fe0d2bf39dd8f59c3ff66b69fd8e998ff9a552f1f7a1f3729efb170c3d7",
            ),
            "img_043.png": (
                "8883b0b9e4e264d7cfbec001ec9fbc04",
                "dd4111dd3a8f8dbeaf80a13466ada25bb5f59c5dcd02ae330c154c88a2bd480b",
            ),
            "img_044.png": (
                "b23c1de6565bd795a55214d726087db7",
                "2ec7a0d1dab45d3ca4173515b5c62e5cdfda82a8bbc1191cb7c0fbbf027f4b85",
            ),
            "img_045.png": (
                "22b5562bccce82b853660df4ee38fd16",
                "37e0fb45ac0a6372695f0519ab63f909a6478134ba022ff2079f84c9bef368ee",
            ),
            "img_046.png": (
                "7947790e75378a7bff440b2bace557a7",
                "7719c09bd17acd36ae5bb8a10188386b479a88258f9c4ed434c75581ecdb1f0f",
            ),
            "img_047.png": (
                "acc28c1b9070c0f7cc0b0d93f97dea44",
                "4c017d333bb73ea9c945a40eb621ba12eddfa084c5a4c913b2894ef4b3a7130b",
            ),
            "img_048.png": (
                "4b7eccb22421a7e44d318ae95684bc24",
                "39cd8320b8d87d446f040430f8293f0d90fe7ce2b51560a6942886e5032feed0",
            ),
            "img_049.png": (
                "c401ac9778bd8b28511bafdd6985ffd8",
                "e42b9ac1965e1b578206dc3acd9313fbdde43683f0168c880aeb67022845fce9",
            ),
            "img_050.png": (
                "afa5655e30df2db10d06fa0a9d31a1d7",
                "99dbae436de97c187371c788df3a8aa5916f7deb272ddce87b1c7aadaf75587b",
            ),
            "img_051.png": (
                "9df2c3814de803b24048f588a6a55ea3",
                "dd2ce67dc387e9d3296767fda2ad9fa88049e8cb6260e8b6442bc899a63b4300",
            ),
            "img_052.png": (
                "e2a89424215d49d5065418acbc2cfc47",
                "69571f8b913e09dba52d74c87f60771d4a4c9bf45160771df034ec676ecc01c0",
            ),
            "img_053.png": (
                "f81fb8d73d2dafac412146006863b969",
                "5d7f7bb7f8f6878699b71527c713c3976e6967f8d1f10cb763d3ceb2ea4f3c47",
            ),
            "img_054.png": (
                "00a9920d80db8807f91392973dd6c004",
                "70ff7c69bd8d2ddd4fc1e760ffe9a91b4a3c45e0b53b805a218cffc7bd696151",
            ),
            "img_055.png": (
                "a2df609c603feeb9246823e6a2e4bd26",
                "a3ecf3b50b2866e3643426d539a0d5fd4bd49df8753cdd85c1482d4c5fbb3c1b",
            ),
            "img_056.png": (
                "0e4b7ec120c71d91a064203ac2c2999e",
                "bd7ac6675c131cb7a9d3483ceb88f7f2aa9cb152a01737e0f243ae35aa725afe",
            ),
            "img_057.png": (
                "a23d2175d3b5fc17539548d84cd48abb",
                "5a4bad32d52464b46a5cd6d0604c5490fca424e0c9404c2001c07b90c12c3d6a",
            ),
            "img_058.png": (
                "08e82b272f02325068416fd265635b81",
                "9e2421461a94d5525948b777ae21d2973256a4751b4e5e9663e3a208c1fcfd42",
            ),
            "img_059.png": (
                "4972303dcfb6069d2f960a2c8ac38018",
                "efd9bd4d556867a3f62f6aaef580db6c2852599182902b50b09eb3aa6ad05f5b",
            ),
            "img_060.png": (
                "57583692a7a8b80880b7f59b83364c54",
                "1b1e9c69d81a0fc67e112336416caf3903bc35d53acc5fc4d667c705d7e535d2",
            ),
            "img_061.png": (
                "4f6a78acb2cbc16464c3abfe66867ff6",
                "d58f4c147d660b8a9b3a74c308966e7151547442dfa47b94d0f6e560ee14605e",
            ),
            "img_062.png": (
                "85fffaa4e0f768f7793d519805fd2044",
                "078e4dab5883641ef67f4ee0097b40fbb48ea5552c9aebf75f6b1b1321f78118",
            ),
            "img_063.png": (
                "b8ecabb9abfcd93a81b9f9e4503bb721",
                "f70733bd4142326d969e1aa8a8c1b21e4f1b4f537f26642fdf8e512da8871a65",
            ),
            "img_064.png": (
                "c3a2458ce10075f0f290f6a63e4e64c5",
                "b57b5047b68e00337fb856be39a93564a515fe62ef46dea2a08514b799e3dd6b",
            ),
            "img_065.png": (
                "1dea9d03cafd539b7b14e1163fb2fccb",
                "ed8a3b5840f260e9512f99068780f3a977150c04e3026ba6f290484f10c31b32",
            ),
            "img_066.png": (
                "a54c12bf14a28e2d0de65cf0f9a7b7ee",
                "48e40043aaecbe7ae13a7bba3c78a9e04886d09d37707719d3b981054da000fb",
            ),
            "img_067.png": (
                "1c2d6b83aad9842f6f1fd54263483789",
                "aff18d8afdab96d9a251a012f1d460982d6f6514b53a5ffad6d870d5992614cc",
            ),
            "img_068.png": (
                "1e6aa383474ab1dfd7a91916b99d3510",
                "0c8c1a274e2906334d7e891f9304ab766f2137b8b3ff5efbe6106e2ba271d534",
            ),
            "img_069.png": (
                "52f442cbf52bc3ad8734204ab66bcf28",
                "88e3922b23c8d583fd5ea532cf313b61baf8ad53294e9b2a7e46c229c414fd2f",
            ),
            "img_070.png": (
                "6e6175d48e353494ec2989fe7122f460",
                "364c661cbe853a77a9e9583365c246ab30a2be2fe498d88973876c338aba1a77",
            ),
            "img_071.png": (
                "9b1979678cb2ebd5abfa5525e1aff079",
                "7c828c96ed88c1ae880cebc794f65533f18b3587c0b8b79272631572533ac8c2",
            ),
            "img_072.png": (
                "18bdb451287d2f828f247b1029f9977d",
                "322cb0eab6bec784eaa64732129541ce6edc11746b6d3a059722dd28f0769056",
            ),
            "img_073.png": (
                "4e094fcd717b8f450fe23da38c7540bf",
                "1da7a91b159d23b6932fa29f71832c801f101a70e7555f194f5174ade9d75bdf",
            ),
            "img_074.png": (
                "f718a4a1e13e9ed17b9ddfeee8d31896",
                "3d1d42ac816192c68de3f8c75da214a486fd11ca183ea984641f1a3370a9e035",
            ),
            "img_075.png": (
                "944a91a1cceee9d2655b8f2f569630a0",
                "bae72b60ccb3539c315d72a74cced224261618511d72de421018860c046a0d8c",
            ),
            "img_076.png": (
                "74005f03ba1115cfe949e6e1e2094ebe",
                "ed48a2715157494ce836419aaf30926a7064210e4e18e380bcb45bc1e98664b9",
            ),
            "img_077.png": (
                "4ed555d0da0528136650f3b267fc3e21",
                "6da7172156a79089edbb4087c4698245568bc721327e0dc5abbe81a6b047dfd7",
            ),
            "img_078.png": (
                "fc5da545c2feb4651031c7c21b96ab82",
                "63784decb6cc1eaa1a038134192cc330635d5d31ab97b43fd089cdf1e1e85c91",
            ),
            "img_079.png": (
                "f1861e659acf6674240e1529f6663a54",
                "52fbe301654a693fbdcec31169b837552d4df6dbf81536c8d70d75e40f8acabd",
            ),
            "img_080.png": (
                "9bb5ab47845ba915f658d2259b0ce2a5",
                "f6dee2b6105657187174040d972f3b78a89296071c0618d9eccac7be87c472b9",
            ),
            "img_081.png": (
                "2c564b824307d041ce5996564a5eb0f8",
                "f36b49d23d9bb206f8c3ec537b57bd44ed008f3f632706ac02eba73e175fa3d0",
            ),
            "img_082.png": (
                "f39a3fe18937de0149e7d946325bedef",
                "936e9fde66edec069168b80be5edb02715ba8e4dc4762feff0e895b38e8e4ce2",
            ),
            "img_083.png": (
                "7a4579902b72964b74dd895a09fb7243",
                "b11dbf8def01258e730f753d00309965d824c62807458fd200ca4612321aa2db",
            ),
            "img_084.png": (
                "24a8eed0d819f13a13fc55cdefcd30a0",
                "30d0c6072b7d106f4ec858e484be8ea096a0ddbd6d6392922c5fc5d899905446",
            ),
            "img_085.png": (
                "f2d16708cf8b864a558bec037d59c666",
                "8fc12215f5824b99f7996d15e09103e1af16188fbee50ddf5ee0892ebf0f459e",
            ),
            "img_086.png": (
                "81456f90cd9216cbac39a6e7a88ad57f",
                "d135b4c8cf3a4428625ea49c37b9ec7c08c7031617f156de82c97163d0317b3a",
            ),
            "img_087.png": (
                "eeedbdf7e61d12382d1416aa5c10553b",
                "0716f8750cdcbad96423072e0d156c109796911196bab162ce28e1169ce88185",
            ),
            "img_088.png": (
                "b64ef9e46e609772a202e485c2519a74",
                "4a18490d388f738966b777ff91be6afa699e42b3199a9d71c8c479ff87db2421",
            ),
            "img_089.png": (
                "0bfcce646af0cc256b83a7f9ee232aa6",
                "b5ecd14de994a8a3700a7ff273aade36b4010581d354e54c09a6cfe354d0441d",
            ),
            "img_090.png": (
                "8a99475e3147d475e911db37f55106b3",
                "57e22535ab778040419b5c7c005d68efc196b4bcd0e8e58ffe97d2e98d34a982",
            ),
            "img_091.png": (
                "438a451c871b763a774990dcf4be1dd5",
                "2deb746649d1fe05a00c5de05b31abdfdd7d48be8259b002974f78ef87182524",
            ),
            "img_092.png": (
                "547cb24161d2e8c0794e25611c957d1d",
                "a3e1438320b93671885a1ac6424ff6e964109748e7e207fd0d594f06e2c2f42d",
            ),
            "img_093.png": (
                "f1a829dbd8b7942d1e1471a5ddea3493",
                "378e0e49ab249f3dfc6c46f8e27c0b2761cf75a0b527411005e69680d5251df4",
            ),
            "img_094.png": (
                "7edbe0c469cdbcb2b1878c1ce6d56182",
                "138b6c224bacc7a4375aa257c4d213e7f93c9f476ebe1534afd60d14e555b5c3",
            ),
            "img_095.png": (
                "b32aaf6eb3cb57744c6a46cb3d702360",
                "6416cc5bbdf9f0d612d98aaddab1f8a98ff6ddafec201799ca89647f79b88f4d",
            ),
            "img_096.png": (
                "8f3299a5ccf61526e21019ad7f4f1fd7",
                "7391c902e4a5a7546266bdca70c5ce928132a227491d3c91688b4d617bd66f93",
            ),
            "img_097.png": (
                "2ecf8354ef71642af3194c75ab4867bf",
                "8ffc78b12dd06854c3c28ba8d7b7fc34a038059b1836e0c06e92fd2b8e849f5e",
            ),
            "img_098.png": (
                "9fc6e469d433ab4fc62b51fa0d7b23a8",
                "97bbe2a24143a258a97368ce36ab48f2e4430e8765ec6cf51cecad50f482e603",
            ),
            "img_099.png": (
                "0f255b68bfdf7a115a38fcaa8c8ce2ce",
                "22477f5eb9af4479aae1f988ce421572d65b6d8e1aff4824336a41169e19d801",
            ),
            "img_100.png": (
                "dbae61f7015a4a0401345c37a35e9b92",
                "2a64511c4a2a596f9b1f50fd90a2d9613bf94f4647bcedc66e1ee170d4ac4d7a",
            ),
        },
    ),
    "Set5": (
        "cszn/KAIR",
        "fc1732f4a4514e42ce15e5b3a1e18c828af47a1e",
        "testsets/set5",
        {
            "baby.bmp": (
                "f9af5d8258bb56f276054e81278345b5",
                "199806aa411249a8f179fe5598bed0766d92bf7fe5ff388522e4d8d997bd2fd4",
            ),
            "bird.bmp": (
                "1f9a46cdde89df12ca75531a073d726c",
                "498f50e8907f2421969d893aff61ee1a7c4aae23cb76452728a90e97c2889fb3",
            ),
            "butterfly.bmp": (
                "1ba93601646eb373195c436fe651e421",
                "43534bd9f59f06ac7b0d6c8b991137baa4c764b8241a5bd1136b9dd810f4dba2",
            ),
            "head.bmp": (
                "a086a85b6f5db9d333d8473fb67f5afc",
                "959f9ac5ceacfd7648e7f0bfa6fbbd626b141d3e61e41dddd3e2593acfd3ac0b",
            ),
            "woman.bmp": (
                "86e0500d47ed67e2d07247e3963b13b2",
                "2ab3c594c057d80c2f339c9be0bf6fb81487ce650562b60c2ad8cd816d509f56",
            ),
        },
    ),
    "deep-image-prior": (
        "DmitryUlyanov/deep-image-prior",
        "042e0d4c1e93f4b1eb0932781de55b8cff5e0f40",
        "data",
        {
            "denoising/F16_GT.png": (
                "0d5766742051b72cb616cb5fdee41896",
                "33810cc97ab8222e5bbb5fb32394d314d7d53564b008a4bf5371d0044ca45336",
            ),
            "denoising/snail.jpg": (
                "55e7ae9064318ced36509c736974e14e",
                "a3e95dd1c2d3030a6d14a3424f59b0d639e3e6c966eac0b753457bbaf41dd779",
            ),
            "feature_inversion/building.jpg": (
                "0dd8145ad85f7dad51273d3e89eda484",
                "8bf674bf169f2fccdee5dbceba867cb11eae22d14a8b48468e0223275ba3b503",
            ),
            "feature_inversion/monkey.jpg": (
                "0e0ba9f7b3ecf589f3381e5c52cd52ef",
                "904e2039cc6fc600daa4ce9083aa0c0a852c2e28cd132f5ad676d9cb757b1de8",
            ),
            "flash_no_flash/cave01_00_flash.jpg": (
                "c50ffe22cd776d9e819724c6bddedbea",
                "d05df54ea3edea45eadc03d233003663b55f6a590982ba0b6f882b2833939216",
            ),
            "flash_no_flash/cave01_01_noflash.jpg": (
                "d571867bf08ddffeadb7e1764d36092e",
                "54bb3d43584d4c79c86ee3a727303ab6f4f2560ea8df9f99c1045d48c713e26e",
            ),
            "inpainting/kate.png": (
                "c93e4438e637f9b9e77e80368a19c513",
                "8516aecf3628fd97ba12ab480d7b9c64d1c8e06be2ef603256087a40cae4971a",
            ),
            "inpainting/kate_mask.png": (
                "595a5182fb9f97c9250efcdb07fc663f",
                "631ffd05b0fc43a72dc06c54331977173d5b4e6706bb4fa5191d822b90ea8f1b",
            ),
            "inpainting/library.png": (
                "5dc78464e92e17d11447a9303f48aea2",
                "4795d1f90c0c5310456057a8ea219e2bcf9ff2f6abcd9a192abfe0c2d472a647",
            ),
            "inpainting/library_mask.png": (
                "468017b67173fd31a48c975a37f27f6d",
                "6908be662bf67becc5495422f242eac7e4701a91d5c814112d804d22b37fcc55",
            ),
            "inpainting/vase.png": (
                "2321652b1716dfe30864abfa8b2c042c",
                "1c25862a0a914bdb29ee793d182533b9e64c2c2da40d56623ee33f9dcfd38424",
            ),
            "inpainting/vase_mask.png": (
                "6d995f82ff78b5084d1b695ad033a8df",
                "9f7a689863d21c920b00c771df45c65c76c32b924ed3dfc11e81d1fc6ecd350a",
            ),
            "restoration/barbara.png": (
                "73c4b3758af64736831438b028ac4524",
                "764b8a2748cc7ad381cccc047c5e512cb528c197ba86adb83aa339e8932e66c0",
            ),
            "restoration/kate.png": (
                "a240ff37156be934a1567e7c999110da",
                "a43cd7635db9537e936c5fed75ec9c2ef6c7c41b5d6a61cd0b38c6120e79a7f2",
            ),
            "sr/zebra_GT.png": (
                "9e6f204fc1018bc995e5d4972460da88",
                "eb531120c7bddf6858c2d9c274ce989df63becd39a4dd29f46215a21a884603a",
            ),
            "sr/zebra_crop.png": (
                "93fb490a6c23e0eea6b1bd1bb14a615d",
                "77d0807d3208e3b640703b597562ccc689768a1f4afa05285492086364f7771f",
            ),
        },
    ),
}
